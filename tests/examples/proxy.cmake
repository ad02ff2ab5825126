# examples/proxy against real backends: the echo example, a backend that never reads, none.
foreach(case many_clients stalled_backend backend_down half_close)
  gnet_backend_test(NAME example_proxy_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/proxy_e2e.py
                   $<TARGET_FILE:proxy> $<TARGET_FILE:echo> ${case}
                    LABELS examples threaded TIMEOUT 600)
endforeach()
# --send-proxy v1/v2 in front of the HTTP example reading PROXY headers (--proxy-protocol --whoami).
gnet_backend_test(NAME example_proxy_send_proxy
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/proxy_e2e.py
                 $<TARGET_FILE:proxy> $<TARGET_FILE:echo> send_proxy $<TARGET_FILE:http>
                  LABELS examples threaded TIMEOUT 600)
