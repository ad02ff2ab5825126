# examples/echo_load: gnet::Client with reconnect and backoff, against examples/echo.
foreach(case basic restart refused corrupt)
  gnet_backend_test(NAME example_echo_load_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/echo_load_e2e.py
                            $<TARGET_FILE:echo_load> $<TARGET_FILE:echo> ${case}
                    LABELS examples threaded TIMEOUT 300)
endforeach()
