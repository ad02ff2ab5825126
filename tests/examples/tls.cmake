# TLS in the examples, end to end against real peer programs: echo, http and websocket serving
# tls:// (--tls-cert/--tls-key) to python3's ssl module, openssl s_client, curl and
# python3-websockets, and cat as the TLS client; certificates made per case by the script with
# the openssl CLI (a CA, a server certificate, a client one, an expired one, a self-signed one).
foreach(case echo_python echo_s_client old_protocol mutual http_files http_refused websocket_wss
             cat_tls cat_errors flags)
  # 77: a client tool is missing (the script says which).
  gnet_backend_test(NAME example_tls_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/tls_e2e.py
                            $<TARGET_FILE:echo> $<TARGET_FILE:http> $<TARGET_FILE:websocket>
                            $<TARGET_FILE:cat> ${case}
                    LABELS examples threaded TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
