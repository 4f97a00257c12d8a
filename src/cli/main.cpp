#include "cli/app.hpp"

int main(int argc, char** argv) {
    return kcube::cli::run(argc, argv);
}
