// gnet/unique_function.hpp — a move-only callable wrapper, C++23's std::move_only_function in
// C++20.
//
// Tasks, timers and completions are handed to the library once and called on a loop thread, so
// they never need to be copied. std::function demands a copyable target, which forbids capturing
// a std::promise, a std::unique_ptr or a moved-in buffer. UniqueFunction takes those. Every
// parameter of the API that takes a task or a completion (Loop::post, Loop::run_after,
// Engine::post, ConnHandle::write's Done, File::read_at's Done, WorkerPool::Task, ...) is a
// UniqueFunction; a lambda, a function pointer or a std::function converts implicitly.
//
// Targets of up to kInlineSize bytes that move without throwing are stored inline (no heap
// allocation: a lambda capturing a few pointers, a shared_ptr and a size); larger ones on the heap.
// Calling an empty UniqueFunction is a precondition violation (asserted in debug builds), as with
// std::move_only_function. Not thread-safe: one owner at a time, like any value.
#pragma once

#include <cassert>
#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace gnet {

template <class Signature>
class UniqueFunction;

template <class R, class... Args>
class UniqueFunction<R(Args...)> {
 public:
  // Inline capacity: four pointers, enough for the captures the library itself uses.
  static constexpr std::size_t kInlineSize = 4 * sizeof(void*);

  UniqueFunction() noexcept = default;
  UniqueFunction(std::nullptr_t) noexcept {}  // NOLINT: implicit, like std::function

  // From any callable invocable as R(Args...). A null function pointer or an empty std::function
  // gives an empty UniqueFunction.
  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, UniqueFunction> &&
                                     std::is_invocable_r_v<R, D&, Args...>>>
  UniqueFunction(F&& f) {  // NOLINT: implicit by design, like std::function
    if (is_null(f)) return;
    if constexpr (stored_inline<D>) {
      ::new (static_cast<void*>(storage_.bytes)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      storage_.heap = new D(std::forward<F>(f));
      ops_ = &kHeapOps<D>;
    }
  }

  UniqueFunction(UniqueFunction&& other) noexcept : ops_(other.ops_) {
    if (ops_ != nullptr) {
      ops_->move(storage_, other.storage_);
      other.ops_ = nullptr;
    }
  }

  UniqueFunction& operator=(UniqueFunction&& other) noexcept {
    if (this != &other) {
      reset();
      if (other.ops_ != nullptr) {
        other.ops_->move(storage_, other.storage_);
        ops_ = other.ops_;
        other.ops_ = nullptr;
      }
    }
    return *this;
  }

  UniqueFunction& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }

  UniqueFunction(const UniqueFunction&) = delete;
  UniqueFunction& operator=(const UniqueFunction&) = delete;

  ~UniqueFunction() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  // Calls the target. Precondition: not empty.
  R operator()(Args... args) {
    assert(ops_ != nullptr && "calling an empty gnet::UniqueFunction");
    return ops_->invoke(storage_, std::forward<Args>(args)...);
  }

  friend bool operator==(const UniqueFunction& f, std::nullptr_t) noexcept { return !f; }

 private:
  union Storage {
    alignas(std::max_align_t) unsigned char bytes[kInlineSize];
    void* heap;
  };

  struct Ops {
    R (*invoke)(Storage&, Args&&...);
    void (*move)(Storage& to, Storage& from) noexcept;  // from is left destroyed
    void (*destroy)(Storage&) noexcept;
  };

  template <class D>
  static constexpr bool stored_inline = sizeof(D) <= kInlineSize &&
                                        alignof(D) <= alignof(std::max_align_t) &&
                                        std::is_nothrow_move_constructible_v<D>;

  template <class T>
  struct is_std_function : std::false_type {};
  template <class S>
  struct is_std_function<std::function<S>> : std::true_type {};

  // Null function pointers and empty std::functions make an empty UniqueFunction. (Not "anything
  // comparable to nullptr": a captureless lambda is, through its conversion to a pointer.)
  template <class D>
  static bool is_null(const D& f) noexcept {
    if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D> || is_std_function<D>::value) {
      return f == nullptr;
    } else {
      return false;
    }
  }

  template <class D>
  static D& inline_target(Storage& s) noexcept {
    return *std::launder(reinterpret_cast<D*>(s.bytes));
  }

  template <class D>
  static constexpr Ops kInlineOps{
      [](Storage& s, Args&&... args) -> R {
        return std::invoke(inline_target<D>(s), std::forward<Args>(args)...);
      },
      [](Storage& to, Storage& from) noexcept {
        ::new (static_cast<void*>(to.bytes)) D(std::move(inline_target<D>(from)));
        inline_target<D>(from).~D();
      },
      [](Storage& s) noexcept { inline_target<D>(s).~D(); },
  };

  template <class D>
  static constexpr Ops kHeapOps{
      [](Storage& s, Args&&... args) -> R {
        return std::invoke(*static_cast<D*>(s.heap), std::forward<Args>(args)...);
      },
      [](Storage& to, Storage& from) noexcept { to.heap = from.heap; },
      [](Storage& s) noexcept { delete static_cast<D*>(s.heap); },
  };

  void reset() noexcept {
    if (ops_ != nullptr) {
      ops_->destroy(storage_);
      ops_ = nullptr;
    }
  }

  Storage storage_;
  const Ops* ops_ = nullptr;
};

}  // namespace gnet
