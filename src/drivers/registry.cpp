#include "drivers/registry.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "drivers/none/none_driver.hpp"

namespace kcube::drivers {

void Registry::add(DriverEntry entry) {
    entries_.push_back(std::move(entry));
}

const DriverEntry* Registry::find(const std::string& name) const {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const DriverEntry& e) { return e.name == name; });
    return it == entries_.end() ? nullptr : &*it;
}

Selection Registry::select(const std::optional<std::string>& requested) const {
    if (requested) {
        const DriverEntry* entry = find(*requested);
        if (entry == nullptr) {
            throw Error(ExitCode::kDriver, "DRV_NOT_AVAILABLE",
                        "the " + *requested + " driver is not available in this build of kcube yet",
                        entries_.empty()
                            ? "No driver has been built into kcube yet; see README.md for the plan."
                            : "Choose one of the drivers this build has (kcube start --help).");
        }
        Health health = entry->check();
        if (!health.healthy) {
            throw Error(ExitCode::kDriver, "DRV_UNHEALTHY",
                        "the " + *requested + " driver cannot run here: " + health.reason,
                        health.fix);
        }
        return {entry->name, "using the " + entry->name + " driver, as requested"};
    }
    std::vector<const DriverEntry*> by_priority;
    for (const auto& e : entries_)
        by_priority.push_back(&e);
    std::stable_sort(by_priority.begin(), by_priority.end(),
                     [](auto* a, auto* b) { return a->priority > b->priority; });
    std::string rejected;
    for (const DriverEntry* entry : by_priority) {
        Health health = entry->check();
        if (health.healthy) {
            return {entry->name,
                    "using the " + entry->name + " driver: " +
                        (entry->chosen_because.empty() ? "the best one that works on this machine"
                                                       : entry->chosen_because)};
        }
        rejected += "\n  " + entry->name + ": " + health.reason + " (" + health.fix + ")";
    }
    if (entries_.empty()) {
        throw Error(ExitCode::kDriver, "DRV_NONE_AVAILABLE",
                    "no driver is available yet: this build of kcube cannot create a cluster",
                    "Drivers (none, qemu, podman, ...) are being built; see README.md.");
    }
    throw Error(ExitCode::kDriver, "DRV_NONE_AVAILABLE",
                "no driver works on this machine:" + rejected,
                "Install what one of them needs, then run kcube start again.");
}

std::unique_ptr<Driver> Registry::open(const std::string& driver, const KcubeHome& home,
                                       const std::string& profile) const {
    const DriverEntry* entry = find(driver);
    if (entry == nullptr || !entry->open) {
        throw Error(ExitCode::kDriver, "DRV_NOT_AVAILABLE",
                    "profile \"" + profile + "\" uses the " + driver +
                        " driver, which this build of kcube does not have",
                    "Use the kcube that created it, or remove it with: kcube delete -p " + profile);
    }
    return entry->open(home, profile);
}

Registry builtin_registry() {
    // Drivers register here as they are implemented (qemu, kvm2, podman, docker to come).
    Registry registry;
    registry.add(none::driver_entry());
    return registry;
}

}  // namespace kcube::drivers
