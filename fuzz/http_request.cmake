gnet_fuzz_target(http_request SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_request.cpp LIBS gnet_example_http_core)
