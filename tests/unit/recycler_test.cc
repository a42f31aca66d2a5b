#include "collectors/core/recycler.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sidecar {
namespace {

TEST_CASE("a recycled buffer comes back with its capacity once its last owner lets it go",
          "[recycler]") {
  const auto recycler = std::make_shared<Recycler<std::string>>();
  std::shared_ptr<std::string> first = recycler->Take();
  first->assign(1 << 20, 'x');
  const std::string* const address = first.get();
  std::shared_ptr<std::string> shared = first;  // a concurrent scrape still serving it
  first.reset();
  CHECK_FALSE(recycler->HasSpare());
  // Meanwhile a second one is handed out: the first is still in use.
  std::shared_ptr<std::string> second = recycler->Take();
  CHECK(second.get() != address);
  shared.reset();
  CHECK(recycler->HasSpare());
  const std::shared_ptr<std::string> again = recycler->Take();
  CHECK(again.get() == address);
  CHECK(again->capacity() >= std::size_t{1} << 20);
  CHECK_FALSE(recycler->HasSpare());
  // One spare at most: with one waiting, another that comes back is deleted.
  second.reset();
  CHECK(recycler->HasSpare());
}

TEST_CASE("buffers outliving their recycler are deleted, from any thread", "[recycler]") {
  // Under the sanitizers: no leak, no use after free, no race between the threads that let go.
  auto recycler = std::make_shared<Recycler<std::vector<int>>>();
  std::vector<std::shared_ptr<std::vector<int>>> taken;
  for (int i = 0; i < 8; ++i) taken.push_back(recycler->Take());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([mine = std::move(taken[i])]() mutable { mine.reset(); });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(recycler->HasSpare());
  recycler.reset();
  taken.clear();  // the other four go after the recycler
}

}  // namespace
}  // namespace sidecar
