// Proves that hostile size claims cost no memory: this binary replaces the global
// operator new/delete with counting versions and asserts that decoding a few bytes
// that claim 4 GiB entries never has more than a small amount allocated at once.
// (It is its own binary because the replacement applies to the whole program.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "protocol/codec.hpp"
#include "protocol/config.hpp"
#include "protocol/message.hpp"
#include "tests/unit/protocol/hex.hpp"

namespace {

// Bytes currently allocated through operator new, and the peak since the last reset.
// Global by necessity: operator new has no other place to report to.
std::atomic<std::size_t> g_live_bytes{0};
std::atomic<std::size_t> g_peak_bytes{0};

// Each block carries its size in a header, so that delete can subtract it.
constexpr std::size_t kHeader = alignof(std::max_align_t);

void* counted_alloc(std::size_t size) {
  void* block = std::malloc(size + kHeader);
  if (block == nullptr) return nullptr;
  *static_cast<std::size_t*>(block) = size;
  std::size_t live = g_live_bytes.fetch_add(size) + size;
  std::size_t peak = g_peak_bytes.load();
  while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live)) {
  }
  return static_cast<char*>(block) + kHeader;
}

void counted_free(void* pointer) {
  if (pointer == nullptr) return;
  void* block = static_cast<char*>(pointer) - kHeader;
  g_live_bytes.fetch_sub(*static_cast<std::size_t*>(block));
  std::free(block);
}

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = counted_alloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return ::operator new(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return counted_alloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_alloc(size);
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete[](void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  counted_free(p);
}

namespace tether::protocol {
namespace {

using testing::from_hex;

// Peak bytes allocated (above what was live before) while `work` runs.
template <typename Work>
std::size_t peak_allocation(Work work) {
  const std::size_t baseline = g_live_bytes.load();
  g_peak_bytes.store(baseline);
  work();
  return g_peak_bytes.load() - baseline;
}

constexpr std::size_t kSmallBound = std::size_t{16} * 1024;

TEST(AllocationBound, CounterWorks) {
  // The guard against a test that cannot fail: a real allocation is seen.
  std::size_t peak = peak_allocation([] {
    std::string big(100000, 'x');
    EXPECT_EQ(big.size(), 100000U);
  });
  EXPECT_GE(peak, 100000U);
}

TEST(AllocationBound, LegitimateDecodeIsSeen) {
  // 60000 nils really do allocate 60000 nodes: the counter sees the decoder's memory.
  Bytes nils = from_hex("dc");
  nils.push_back(0xea);
  nils.push_back(0x60);
  nils.resize(nils.size() + 60000, 0xc0);
  Result<Value> value = Result<Value>(Error("not run"));
  std::size_t peak = peak_allocation([&] { value = decode_value(nils); });
  ASSERT_TRUE(value.ok()) << value.error().message();
  EXPECT_GE(peak, 60000 * sizeof(Value));
}

TEST(AllocationBound, HugeClaimsAllocateNothingBig) {
  for (std::string hex : {
           "ddffffffff010203",           // array32 of 2^32-1 entries
           "dfffffffffa16101",           // map32 of 2^32-1 entries
           "dbffffffff616263",           // str32 of 2^32-1 bytes
           "c6ffffffff616263",           // bin32 of 2^32-1 bytes
           "dc ffff 01020304",           // array16 of 65535 entries, 4 bytes of data
           "de ffff a16101",             // map16 of 65535 entries
           "91 91 91 dd ffffffff 01",    // the same, nested
           "81a3686472 df ffffffff 01",  // inside an envelope's hdr
       }) {
    std::erase(hex, ' ');
    Bytes bytes = from_hex(hex);
    bool decoded_value = true;
    bool decoded_msg = true;
    bool decoded_config = true;
    std::size_t peak = peak_allocation([&] {
      decoded_value = decode_value(bytes).ok();
      decoded_msg = decode(bytes).ok();
      decoded_config = ConfigSet::decode(bytes).ok();
    });
    EXPECT_FALSE(decoded_value || decoded_msg || decoded_config) << hex;
    EXPECT_LT(peak, kSmallBound) << hex;
  }
}

TEST(AllocationBound, DecodedSizeStaysWithinTheExpansionFactor) {
  // The worst shape the budget allows: an array of 65536 empty maps, 1 byte each.
  Bytes bytes = from_hex("dc");
  bytes.push_back(0xff);
  bytes.push_back(0xff);
  bytes.resize(bytes.size() + 65535, 0x80);
  DecodeLimits limits;
  std::size_t peak = peak_allocation([&] { (void)decode_value(bytes, limits).ok(); });
  EXPECT_LE(peak, limits.expansion_factor * bytes.size() + limits.expansion_slack + kSmallBound);
}

}  // namespace
}  // namespace tether::protocol
