#include "cluster/controllers/runtime/controller.hpp"

#include <spdlog/spdlog.h>

#include "cluster/api/errors.hpp"

namespace kcube::controllers {

Controller::Controller(std::string name) : name_(std::move(name)) {}

Controller::~Controller() {
    stop();
}

void Controller::start() {
    worker_ = std::jthread([this](std::stop_token stop) { work(stop); });
}

void Controller::stop() {
    queue_.shut_down();
    if (worker_.joinable()) {
        worker_.request_stop();
        worker_.join();
    }
}

void Controller::work(std::stop_token stop) {
    while (auto key = queue_.get(stop)) {
        try {
            reconcile(*key);
            queue_.forget(*key);
        } catch (const api::ApiError& e) {
            if (e.code() == 409 || e.code() == 404) {
                spdlog::debug("{}: {}: {} (retrying)", name_, *key, e.what());
            } else {
                spdlog::warn("{}: {}: {}", name_, *key, e.what());
            }
            queue_.add_rate_limited(*key);
        } catch (const std::exception& e) {
            spdlog::warn("{}: {}: {}", name_, *key, e.what());
            queue_.add_rate_limited(*key);
        }
        queue_.done(*key);
    }
}

}  // namespace kcube::controllers
