gnet_fuzz_target(tls_server
                 SOURCES ${CMAKE_CURRENT_LIST_DIR}/tls_server.cpp ${PROJECT_SOURCE_DIR}/tests/net/tls_pki.cpp
                 LIBS gnet::gnet OpenSSL::SSL OpenSSL::Crypto)
