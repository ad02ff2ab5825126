gnet_fuzz_target(address_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/address_parse.cpp LIBS gnet::gnet)
