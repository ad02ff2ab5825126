gnet_fuzz_target(ws_handshake SOURCES ${CMAKE_CURRENT_LIST_DIR}/ws_handshake.cpp LIBS gnet_example_websocket_core)
