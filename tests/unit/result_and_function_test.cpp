// Result<T>'s std::expected-like surface and UniqueFunction (a move-only callable).
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "gnet/error.hpp"
#include "gnet/unique_function.hpp"

using gnet::Error;
using gnet::Result;
using gnet::UniqueFunction;

namespace {

Result<int> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) {
    return Error(gnet::Errc::bad_address, "bad port: '" + s + "'");
  }
  const int v = std::stoi(s);
  if (v > 65535) return Error(gnet::Errc::bad_address, "port out of range: " + s);
  return v;
}

}  // namespace

TEST(Result, ValueThrowsBadResultAccessCarryingTheError) {
  Result<int> bad = parse_port("x");
  ASSERT_FALSE(bad);
  try {
    (void)bad.value();
    FAIL() << "value() of an error must throw";
  } catch (const gnet::BadResultAccess& e) {
    EXPECT_EQ(e.error().code(), gnet::Errc::bad_address);
    EXPECT_STREQ(e.what(), "bad port: 'x'");
  }
  Result<void> bad_void = Error(gnet::Errc::timed_out, "dial: timed out");
  EXPECT_THROW(bad_void.value(), gnet::BadResultAccess);
  Result<void> good_void;
  EXPECT_NO_THROW(good_void.value());
  EXPECT_EQ(parse_port("80").value(), 80);
}

TEST(Result, ErrorOfAValueIsEmpty) {
  Result<int> good = parse_port("443");
  EXPECT_FALSE(good.error());
  EXPECT_EQ(good.error().code(), std::error_code());
  EXPECT_TRUE(good.error().message().empty());
}

TEST(Result, ValueOr) {
  EXPECT_EQ(parse_port("8080").value_or(1), 8080);
  EXPECT_EQ(parse_port("-").value_or(1), 1);
  Result<std::unique_ptr<int>> moved = std::make_unique<int>(7);
  std::unique_ptr<int> p = std::move(moved).value_or(nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(Result, AndThenChainsAndStopsAtTheFirstError) {
  int calls = 0;
  auto double_it = [&](int v) -> Result<long> {
    ++calls;
    return static_cast<long>(v) * 2;
  };
  Result<long> r = parse_port("1000").and_then(double_it);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2000);
  Result<long> e = parse_port("99999").and_then(double_it);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "port out of range: 99999");
  EXPECT_EQ(calls, 1);
}

TEST(Result, TransformMapsTheValueAndKeepsTheError) {
  Result<std::string> s = parse_port("22").transform([](int v) { return "port " + std::to_string(v); });
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, "port 22");
  Result<std::string> e = parse_port("").transform([](int v) { return std::to_string(v); });
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), gnet::Errc::bad_address);
  int seen = 0;
  Result<void> v = parse_port("5").transform([&](int x) { seen = x; });
  EXPECT_TRUE(v);
  EXPECT_EQ(seen, 5);
}

TEST(Result, OrElseAndTransformErrorOnlyTouchErrors) {
  Result<int> fallback = parse_port("nope").or_else([](const Error&) -> Result<int> { return 80; });
  ASSERT_TRUE(fallback);
  EXPECT_EQ(*fallback, 80);
  Result<int> kept = parse_port("21").or_else([](const Error&) -> Result<int> { return 80; });
  EXPECT_EQ(*kept, 21);
  Result<int> renamed = parse_port("?").transform_error(
      [](Error e) { return Error(e.code(), "config: " + e.message()); });
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().message(), "config: bad port: '?'");
  Result<void> void_renamed = Result<void>(Error(gnet::Errc::timed_out, "t")).transform_error(
      [](const Error& e) { return Error(e.code(), "dial: " + e.message()); });
  EXPECT_EQ(void_renamed.error().message(), "dial: t");
  Result<int> from_void = Result<void>().and_then([]() -> Result<int> { return 3; });
  EXPECT_EQ(*from_void, 3);
}

TEST(UniqueFunction, HoldsMoveOnlyCapturesSuchAsAPromise) {
  std::promise<int> promise;
  std::future<int> future = promise.get_future();
  UniqueFunction<void()> task = [p = std::move(promise)]() mutable { p.set_value(42); };
  UniqueFunction<void()> moved = std::move(task);
  EXPECT_FALSE(task);  // NOLINT(bugprone-use-after-move): a moved-from function is empty
  ASSERT_TRUE(moved);
  moved();
  EXPECT_EQ(future.get(), 42);
}

TEST(UniqueFunction, LargeTargetsLiveOnTheHeapAndAreDestroyedOnce) {
  auto counter = std::make_shared<int>(0);
  struct Big {
    std::shared_ptr<int> c;
    char pad[200] = {};
    int operator()(int x) { return x + ++*c; }
  };
  static_assert(sizeof(Big) > UniqueFunction<int(int)>::kInlineSize);
  {
    UniqueFunction<int(int)> f = Big{counter};
    EXPECT_EQ(counter.use_count(), 2);
    UniqueFunction<int(int)> g;
    g = std::move(f);
    EXPECT_EQ(g(10), 11);
    EXPECT_EQ(g(10), 12);  // state kept between calls
    EXPECT_EQ(counter.use_count(), 2);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(UniqueFunction, SmallTargetsMoveInlineAndAreDestroyedOnce) {
  auto counter = std::make_shared<int>(0);
  {
    UniqueFunction<void()> f = [counter] { ++*counter; };
    UniqueFunction<void()> g = std::move(f);
    UniqueFunction<void()> h;
    h = std::move(g);
    h();
    EXPECT_EQ(*counter, 1);
    EXPECT_EQ(counter.use_count(), 2);
    h = nullptr;
    EXPECT_EQ(counter.use_count(), 1);
    EXPECT_TRUE(h == nullptr);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(UniqueFunction, NullPointersAndEmptyStdFunctionsGiveAnEmptyFunction) {
  void (*null_fn)() = nullptr;
  UniqueFunction<void()> a = null_fn;
  EXPECT_FALSE(a);
  std::function<void()> empty;
  UniqueFunction<void()> b = empty;
  EXPECT_FALSE(b);
  std::function<void()> full = [] {};
  UniqueFunction<void()> c = full;
  EXPECT_TRUE(c);
  UniqueFunction<void()> d = [] {};
  EXPECT_TRUE(d);
}

TEST(UniqueFunction, ForwardsArgumentsAndReturnsTheResult) {
  UniqueFunction<std::string(std::string, int)> f = [](std::string s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  EXPECT_EQ(f("ab", 3), "ababab");
  UniqueFunction<void(std::unique_ptr<int>)> sink = [](std::unique_ptr<int> p) { EXPECT_EQ(*p, 9); };
  sink(std::make_unique<int>(9));
}
