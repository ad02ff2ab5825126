gnet_fuzz_target(ws_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/ws_frame.cpp LIBS gnet_example_websocket_core)
