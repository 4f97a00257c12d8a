#include "cluster/controllers/runtime/work_queue.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using kcube::controllers::WorkQueue;
using namespace std::chrono_literals;

TEST_CASE("a key is queued once however often it is added") {
    WorkQueue queue;
    queue.add("a");
    queue.add("a");
    queue.add("b");
    CHECK(queue.size() == 2);
    std::stop_source stop;
    CHECK(*queue.get(stop.get_token()) == "a");
    CHECK(*queue.get(stop.get_token()) == "b");
}

TEST_CASE("a key added while it is processed comes back after done, not before") {
    WorkQueue queue;
    std::stop_source stop;
    queue.add("a");
    auto key = queue.get(stop.get_token());
    queue.add("a");
    CHECK(queue.size() == 0);
    queue.done(*key);
    CHECK(queue.size() == 1);
}

TEST_CASE("delayed adds arrive after their delay, earliest first") {
    WorkQueue queue;
    std::stop_source stop;
    const auto start = std::chrono::steady_clock::now();
    queue.add_after("late", 120ms);
    queue.add_after("early", 40ms);
    CHECK(*queue.get(stop.get_token()) == "early");
    CHECK(std::chrono::steady_clock::now() - start >= 40ms);
    CHECK(*queue.get(stop.get_token()) == "late");
    CHECK(std::chrono::steady_clock::now() - start >= 120ms);
}

TEST_CASE("an earlier delayed add wakes a worker already waiting for a later one") {
    WorkQueue queue;
    std::stop_source stop;
    queue.add_after("late", 5s);
    std::thread adder([&] {
        std::this_thread::sleep_for(30ms);
        queue.add_after("soon", 10ms);
    });
    const auto start = std::chrono::steady_clock::now();
    CHECK(*queue.get(stop.get_token()) == "soon");
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    adder.join();
}

TEST_CASE("failures back off exponentially and forget starts over") {
    WorkQueue queue(WorkQueue::BackOff{10ms, 1000ms});
    std::stop_source stop;
    queue.add_rate_limited("a");  // 10 ms
    queue.get(stop.get_token());
    queue.done("a");
    queue.add_rate_limited("a");  // 20 ms
    CHECK(queue.failures("a") == 2);
    const auto start = std::chrono::steady_clock::now();
    queue.get(stop.get_token());
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    queue.done("a");
    queue.forget("a");
    CHECK(queue.failures("a") == 0);
}

TEST_CASE("shut down releases a waiting worker") {
    WorkQueue queue;
    std::stop_source stop;
    std::thread closer([&] {
        std::this_thread::sleep_for(20ms);
        queue.shut_down();
    });
    CHECK_FALSE(queue.get(stop.get_token()).has_value());
    closer.join();
}
