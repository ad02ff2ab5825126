// The translation unit that builds the precompiled header every test binary reuses
// (tests/CMakeLists.txt, GNET_TEST_PCH). Nothing else lives here.
