#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "test/support/test_failed.hpp"

namespace {

bool failed = false;

// Records whether the running test case has a failed assertion (kv::test::current_test_failed).
struct FailureListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    failed = false;
    TestEventListenerBase::testCaseStarting(info);
  }
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk())
      failed = true;
    return TestEventListenerBase::assertionEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(FailureListener)

namespace kv::test {
bool current_test_failed() {
  return failed;
}
}  // namespace kv::test
