#pragma once

namespace kv::test {

// True once an assertion of the running test case failed (CHECK or REQUIRE; reset when the next
// case starts). A fixture's destructor reads it to print what explains the failure (a child
// process's log): Catch2 prints an INFO only with the assertions after it, so an INFO at the end
// of a case never shows. Defined by test/catch_main.cpp's listener.
bool current_test_failed();

}  // namespace kv::test
