# examples/websocket: unit tests of the protocol code (no sockets), end-to-end tests that start
# the real binary and talk to it with python3-websockets and raw sockets, and a headless Chromium
# test of the chat page.
foreach(name websocket_utf8_test websocket_codec_test websocket_handshake_test)
  gnet_test(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp LABELS unit)
  target_link_libraries(${name} PRIVATE gnet_example_websocket_core)
endforeach()

foreach(case http echo fragmentation ping close_codes protocol_errors broadcast shutdown
             slow_members members_leave handshake_deadline origin endless_message huge_length
             pipelined_pages)
  # 77: python3-websockets is missing (the script says so).
  gnet_backend_test(NAME example_websocket_${case}
                    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/websocket_e2e.py $<TARGET_FILE:websocket> ${case}
                    LABELS examples threaded TIMEOUT 600 SKIP_RETURN_CODE 77)
endforeach()

add_test(NAME example_websocket_chromium
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/websocket_chromium.py $<TARGET_FILE:websocket>)
# 77: /usr/bin/chromium (or python3-websockets) is missing (the script says which).
set_tests_properties(example_websocket_chromium PROPERTIES LABELS "examples;browser" TIMEOUT 600 SKIP_RETURN_CODE 77)
# The same chat over https:// and wss:// (a certificate made by the script).
add_test(NAME example_websocket_chromium_tls
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/websocket_chromium.py $<TARGET_FILE:websocket> --tls)
set_tests_properties(example_websocket_chromium_tls PROPERTIES LABELS "examples;browser" TIMEOUT 600 SKIP_RETURN_CODE 77)
