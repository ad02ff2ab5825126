gnet_fuzz_target(ws_utf8 SOURCES ${CMAKE_CURRENT_LIST_DIR}/ws_utf8.cpp LIBS gnet_example_websocket_core)
