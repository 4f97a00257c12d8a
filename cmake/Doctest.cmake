# doctest's own CTest integration: every TEST_CASE becomes a ctest test carrying `label`.
include(${doctest_DIR}/doctest.cmake)

# Extra arguments are more test properties (e.g. RESOURCE_LOCK host-network).
function(kcube_add_doctests target label)
  doctest_discover_tests(${target} ADD_LABELS 0 PROPERTIES LABELS ${label} ${ARGN}
                         TEST_PREFIX "${label}.")
endfunction()

# The tests use real kubectl. Prefer the 1.32 client that matches the API version we serve.
find_program(KCUBE_KUBECTL NAMES kubectl.1.32 kubectl
             PATHS /usr/lib/google-cloud-sdk/bin NO_DEFAULT_PATH)
find_program(KCUBE_KUBECTL NAMES kubectl)
if(NOT KCUBE_KUBECTL)
  message(WARNING "kubectl not found: kubeconfig tests will fail loudly (install kubectl)")
  set(KCUBE_KUBECTL "kubectl-not-found")
endif()
