# examples/cat: stdin/stdout enrolled as stream connections (pipes, owned or relayed, and a
# terminal under a pty), against the echo example as the peer.
foreach(case pipes owned files pty refused)
  gnet_backend_test(NAME example_cat_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cat_e2e.py
                            $<TARGET_FILE:cat> $<TARGET_FILE:echo> ${case}
                    LABELS examples threaded TIMEOUT 300)
endforeach()
