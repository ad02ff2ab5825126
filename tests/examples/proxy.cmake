# examples/proxy against real backends: the echo example, a backend that never reads, none.
foreach(case many_clients stalled_backend backend_down half_close)
  gnet_backend_test(NAME example_proxy_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/proxy_e2e.py
                   $<TARGET_FILE:proxy> $<TARGET_FILE:echo> ${case}
                    LABELS examples threaded TIMEOUT 600)
endforeach()
