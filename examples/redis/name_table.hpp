// examples/redis/name_table.hpp — a fixed table of lower-case names, looked up
// case-insensitively with no hashing and no copy of the name.
//
// The command table is searched once per command received: under redis-benchmark -P 16 a
// std::unordered_map lookup with a case-folding hash took 2-3 % of the server's CPU (perf),
// kernel time included. Entries are grouped by (name length, first letter): a lookup is one index into
// `first_`, then a compare against the few names of the same length and initial — usually
// one. Names are restricted to 1..kMaxName ASCII letters, which is what makes the compare a
// plain `byte | 0x20` per byte: OR-ing 0x20 maps only 'A'-'Z' onto 'a'-'z', and no other byte
// lands on a lower-case letter.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace redis_example {

template <class T>
class NameTable {
 public:
  struct Entry {
    std::string_view name;  // lower-case ASCII letters, 1..kMaxName of them
    T value;
  };
  static constexpr std::size_t kMaxName = 16;

  // Throws std::invalid_argument for a name that is empty, too long, not all lower-case
  // letters, or given twice (a programming error in the table, found at start-up).
  NameTable(std::initializer_list<Entry> entries) : entries_(entries) {
    for (const Entry& e : entries_) {
      if (e.name.empty() || e.name.size() > kMaxName ||
          !std::all_of(e.name.begin(), e.name.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
        throw std::invalid_argument("NameTable: not 1-16 lower-case letters");
      }
    }
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
      const auto ka = bucket(a.name), kb = bucket(b.name);
      return ka != kb ? ka < kb : a.name < b.name;
    });
    for (std::size_t i = 1; i < entries_.size(); ++i) {
      if (entries_[i].name == entries_[i - 1].name) throw std::invalid_argument("NameTable: duplicate name");
    }
    // first_[k]: the index of the first entry of bucket k or later; bucket k is
    // [first_[k], first_[k + 1]).
    std::size_t i = 0;
    for (std::size_t k = 0; k <= kBuckets; ++k) {
      while (i < entries_.size() && bucket(entries_[i].name) < k) ++i;
      first_[k] = static_cast<std::uint16_t>(i);
    }
  }

  // The entry named `name` in any letter case, or nullptr.
  const Entry* find(std::string_view name) const noexcept {
    if (name.empty() || name.size() > kMaxName) return nullptr;
    const auto initial = static_cast<unsigned char>(name[0] | 0x20);
    if (initial < 'a' || initial > 'z') return nullptr;
    const std::size_t k = bucket(name);
    for (std::size_t i = first_[k]; i < first_[k + 1]; ++i) {
      if (folds_to(name, entries_[i].name)) return &entries_[i];
    }
    return nullptr;
  }

  // Every entry, grouped by length and initial (not alphabetical).
  std::span<const Entry> entries() const noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  static constexpr std::size_t kBuckets = kMaxName * 26;

  // For a name of 1..kMaxName bytes whose first byte folds to a letter.
  static std::size_t bucket(std::string_view name) noexcept {
    return (name.size() - 1) * 26 + static_cast<std::size_t>((name[0] | 0x20) - 'a');
  }
  // Whether `name` equals the lower-case `lower` once ASCII letters are folded (same length).
  static bool folds_to(std::string_view name, std::string_view lower) noexcept {
    for (std::size_t i = 0; i < lower.size(); ++i) {
      if ((static_cast<unsigned char>(name[i]) | 0x20) != static_cast<unsigned char>(lower[i])) {
        return false;
      }
    }
    return true;
  }

  std::vector<Entry> entries_;
  std::array<std::uint16_t, kBuckets + 1> first_{};
};

}  // namespace redis_example
