/* test_list.h - the unit-test suites, one PDX_SUITE(name) per tests/test_NAME.c. */
PDX_SUITE(capture)
PDX_SUITE(decode)
PDX_SUITE(flow)
PDX_SUITE(varint)
PDX_SUITE(qparse)
PDX_SUITE(index)
PDX_SUITE(reasm)
