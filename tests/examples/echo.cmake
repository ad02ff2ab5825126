# examples/echo, echo_pool and udp_echo: flags, errors and traffic against the real binaries.
foreach(case tcp unix bad_flags echo_pool udp)
  gnet_backend_test(NAME example_echo_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/echo_e2e.py
                   $<TARGET_FILE:echo> $<TARGET_FILE:echo_pool> $<TARGET_FILE:udp_echo> ${case}
                    LABELS examples threaded TIMEOUT 300)
endforeach()
