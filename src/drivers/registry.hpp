#pragma once
// Which drivers this build has, whether each works on this host, and which one to use
// (modelled on minikube's pkg/minikube/registry).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/home.hpp"
#include "drivers/driver.hpp"

namespace kcube::drivers {

struct Health {
    bool installed = false;  // the programs it needs are present
    bool healthy = false;    // and they work here
    std::string reason;      // why not, when not
    std::string fix;         // what to run or change
};

struct DriverEntry {
    std::string name;
    int priority = 0;  // higher wins when several are healthy
    std::function<Health()> check;
    // The driver for one profile's machine.
    std::function<std::unique_ptr<Driver>(const KcubeHome&, const std::string& profile)> open;
    // Why it was picked when `kcube start` chose it (empty: it is the best that works here).
    std::string chosen_because;
};

struct Selection {
    std::string name;
    std::string why;  // one line for the user: why this driver was chosen
};

class Registry {
  public:
    void add(DriverEntry entry);
    const DriverEntry* find(const std::string& name) const;
    const std::vector<DriverEntry>& entries() const { return entries_; }

    // The driver `kcube start` uses: `requested` if given (it must exist and be healthy),
    // else the healthy driver with the highest priority. Throws Error(kDriver) explaining
    // what is missing (DRV_NOT_AVAILABLE, DRV_UNHEALTHY, DRV_NONE_AVAILABLE).
    Selection select(const std::optional<std::string>& requested) const;
    // The driver of an existing profile's machine; Error(kDriver, DRV_NOT_AVAILABLE) when this
    // build lacks it.
    std::unique_ptr<Driver> open(const std::string& driver, const KcubeHome& home,
                                 const std::string& profile) const;

  private:
    std::vector<DriverEntry> entries_;
};

// The drivers compiled into this kcube.
Registry builtin_registry();

}  // namespace kcube::drivers
