gnet_fuzz_target(proxy_header SOURCES ${CMAKE_CURRENT_LIST_DIR}/proxy_header.cpp LIBS gnet::gnet)
