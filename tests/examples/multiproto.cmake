# examples/multiproto: TCP echo, UDP echo and a Unix admin socket in one engine (gnet::rotate).
gnet_backend_test(NAME example_multiproto
                  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/multiproto_e2e.py $<TARGET_FILE:multiproto>
                  LABELS examples threaded TIMEOUT 300)
