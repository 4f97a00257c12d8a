#pragma once
// What people read on stderr: one short line per step, warnings, and errors with advice.
// Results that scripts consume go to stdout and never through here.
#include <cstdio>
#include <string_view>

namespace kcube {

class Error;

class Console {
  public:
    explicit Console(std::FILE* out = stderr);

    // "* Creating the cluster CA ..." ; on a terminal the marker is a bullet.
    void step(std::string_view message) const;
    void warn(std::string_view message) const;
    void success(std::string_view message) const;
    // The reason code, message and advice of `error`.
    void error(const Error& error) const;
    bool is_tty() const { return tty_; }

  private:
    void line(std::string_view marker, std::string_view message) const;
    std::FILE* out_;
    bool tty_;
};

}  // namespace kcube
