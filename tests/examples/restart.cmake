# Zero-downtime restart of examples/http and examples/echo (SIGUSR2: successor, hand-over, drain,
# exit): 200 closed-loop HTTP clients through three restarts, echo connections kept across one,
# a successor that fails to start, and a start by systemd socket activation (LISTEN_FDS).
foreach(case http_closed_loop echo_open_conns failed_successor systemd)
  gnet_backend_test(NAME example_restart_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/restart_e2e.py
                            $<TARGET_FILE:http> $<TARGET_FILE:echo> ${case}
                    LABELS examples threaded TIMEOUT 300)
endforeach()
