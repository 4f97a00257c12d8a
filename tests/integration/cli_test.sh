#!/usr/bin/env bash
# The kcube binary as a user meets it: output, files written and exit codes (README.md).
# Needs: KCUBE_BIN (the binary), KUBECTL (a real kubectl), python3 for JSON checks.
set -uo pipefail
: "${KCUBE_BIN:?set KCUBE_BIN to the kcube binary}"
: "${KUBECTL:?set KUBECTL to a kubectl binary}"

work=$(mktemp -d /tmp/kcube-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KCUBE_HOME="$work/home" HOME="$work/user" KUBECONFIG="$work/user/.kube/config"
mkdir -p "$HOME"

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; echo "  stdout: $(head -c 2000 "$work/out")"; echo "  stderr: $(head -c 2000 "$work/err")"; }

# run CMD...: runs kcube, keeping stdout/stderr in $work/out and $work/err, exit code in $rc.
run() { "$KCUBE_BIN" "$@" >"$work/out" 2>"$work/err"; rc=$?; }
expect_rc() { # expect_rc N description
  if [ "$rc" -eq "$1" ]; then pass "$2 (exit $1)"; else fail "$2: expected exit $1, got $rc"; fi
}
expect_out() { # expect_out REGEX description
  if grep -Eq -- "$1" "$work/out"; then pass "$2"; else fail "$2: stdout lacks /$1/"; fi
}
expect_err() {
  if grep -Eq -- "$1" "$work/err"; then pass "$2"; else fail "$2: stderr lacks /$1/"; fi
}
json() { # json PYTHON-EXPR: evaluates EXPR with `d` = stdout parsed as JSON, prints the result
  python3 -c "import json,sys; d=json.load(open('$work/out')); print($1)"
}
expect_json() { # expect_json PYTHON-EXPR EXPECTED description
  local got; got=$(json "$1" 2>&1)
  if [ "$got" = "$2" ]; then pass "$3"; else fail "$3: $1 = '$got', expected '$2'"; fi
}

# --- help and usage errors ---------------------------------------------------------------------
run --help; expect_rc 0 "kcube --help"; expect_out "Examples:" "root help has examples"
for cmd in start version config profile "config set" "config get" "config unset" "config view" "profile list" \
           status stop delete logs kubectl image "image load" "image ls" "image rm"; do
  # shellcheck disable=SC2086
  run $cmd --help; expect_rc 0 "kcube $cmd --help"; expect_out "Examples:" "kcube $cmd --help has an example"
done
run vesion; expect_rc 2 "unknown command"; expect_err 'Did you mean "version"' "unknown command gets a suggestion"
run version --bogus; expect_rc 2 "unknown flag"; expect_err "bogus" "unknown flag is named"
run version -o xml; expect_rc 2 "invalid -o value"
run -p Upper_Case profile; expect_rc 2 "invalid profile name"; expect_err "PROFILE_INVALID_NAME" "invalid profile name has its reason code"

# --- version -----------------------------------------------------------------------------------
run version; expect_rc 0 "kcube version"; expect_out "^kcube version: v[0-9]+\.[0-9]+\.[0-9]+" "version text"
run version --short; expect_rc 0 "version --short"; expect_out "^v[0-9]+\.[0-9]+\.[0-9]+$" "short version is one line"
run version -o json; expect_rc 0 "version -o json"
expect_json "sorted(d.keys())" "['buildDate', 'commit', 'kcubeVersion', 'kubernetesVersion', 'platform']" "version json fields"
expect_json "d['kubernetesVersion'].startswith('v1.32.')" "True" "serves a v1.32 API (kubectl 1.32 is chosen)"
expect_json "len(d['commit']) >= 7" "True" "version names the commit"
[ ! -e "$KCUBE_HOME" ] && pass "version writes nothing to KCUBE_HOME" || fail "version created $KCUBE_HOME"

# --- config ------------------------------------------------------------------------------------
run config view -o json; expect_rc 0 "config view with no file"; expect_json "d" "{}" "empty config is {}"
run config set memory 4g; expect_rc 0 "config set memory 4g"
run config get memory; expect_rc 0 "config get memory"; expect_out "^4096$" "memory normalised to MiB"
mode=$(stat -c %a "$KCUBE_HOME/config.yaml"); [ "$mode" = 600 ] && pass "config.yaml is 0600" || fail "config.yaml mode $mode"
run config set driver qemu; expect_rc 0 "config set driver"
run config view -o json; expect_json "d" "{'driver': 'qemu', 'memory': '4096'}" "config view -o json"
run config view; expect_out "^- memory: 4096$" "config view text"
run config set colour red; expect_rc 2 "unknown key refused"; expect_err "CONFIG_UNKNOWN_KEY" "unknown key reason"; expect_err "kubernetes-version" "unknown key lists the valid keys"
run config set cpu 2; expect_err 'did you mean "cpus"' "near-miss key gets a suggestion"
run config set cpus 0; expect_rc 2 "cpus 0 refused"; expect_err "CONFIG_INVALID_VALUE" "invalid value reason"
run config set driver hyperv; expect_rc 2 "unknown driver refused"
run config set kubernetes-version v1.19.0; expect_rc 2 "unsupported kubernetes version refused"
run config get cpus; expect_rc 3 "get of an unset key"; expect_err "CONFIG_KEY_NOT_SET" "unset key reason"
run config get nope; expect_rc 2 "get of an unknown key"
run config unset driver; expect_rc 0 "config unset"
run config get driver; expect_rc 3 "unset key is gone"
run config set; expect_rc 2 "config set without arguments"
run config; expect_rc 2 "config without a subcommand"
cp "$KCUBE_HOME/config.yaml" "$work/config.before"
printf 'memory: [1, 2\n' >"$KCUBE_HOME/config.yaml"
run config set cpus 2; expect_rc 4 "corrupt config.yaml is a state error"; expect_err "config.yaml" "error names config.yaml"
grep -q '^memory: \[1, 2$' "$KCUBE_HOME/config.yaml" && pass "corrupt config.yaml left untouched" || fail "corrupt config.yaml was rewritten"
cp "$work/config.before" "$KCUBE_HOME/config.yaml"

# --- profiles ----------------------------------------------------------------------------------
run profile; expect_rc 0 "kcube profile"; expect_out "^kcube$" "default profile is kcube"
run profile list; expect_rc 0 "profile list with no profiles"; expect_err "No profiles" "says there are none"
run profile list -o json; expect_json "d" "{'valid': [], 'invalid': []}" "empty profile list json"
# Profiles are made by `kcube start`; until a driver exists the test writes one as start would.
mkdir -p "$KCUBE_HOME/profiles/dev" "$KCUBE_HOME/profiles/broken"
cat >"$KCUBE_HOME/profiles/dev/config.json" <<'JSON'
{"name":"dev","driver":"qemu","cpus":2,"memoryMiB":2048,"diskMiB":20480,"kubernetesVersion":"v1.32.0","containerRuntime":"containerd","addons":[],"apiServerURL":"https://127.0.0.1:8443"}
JSON
echo '{oops' >"$KCUBE_HOME/profiles/broken/config.json"
run profile list -o json; expect_rc 0 "profile list -o json"
expect_json "[p['name'] for p in d['valid']]" "['dev']" "valid profiles listed"
expect_json "[p['name'] for p in d['invalid']]" "['broken']" "corrupt profile listed as invalid"
expect_json "d['valid'][0]['config']['driver']" "qemu" "profile config in json"
run profile list; expect_out "^dev +qemu" "profile list table"; expect_err "invalid profile broken" "table warns about the corrupt profile"
run profile missing; expect_rc 3 "switch to a missing profile"; expect_err "kcube start -p missing" "advice names the command"
run profile Bad_Name; expect_rc 2 "switch to an invalid name"
# A kubeconfig that already has a "dev" context and another current context.
mkdir -p "$HOME/.kube"
"$KUBECTL" config set-cluster dev --server=https://127.0.0.1:1 >/dev/null
"$KUBECTL" config set-context dev --cluster=dev >/dev/null
"$KUBECTL" config set-cluster other --server=https://127.0.0.1:2 >/dev/null
"$KUBECTL" config set-context other --cluster=other >/dev/null
"$KUBECTL" config use-context other >/dev/null
run profile dev; expect_rc 0 "kcube profile dev"
run profile; expect_out "^dev$" "default profile is now dev"
[ "$("$KUBECTL" config current-context)" = dev ] && pass "kubectl context switched to dev" || fail "kubectl context not switched"
run profile list -o json; expect_json "[p['active'] for p in d['valid']]" "[True]" "dev is active"
run -p kcube profile; expect_out "^kcube$" "-p overrides the default profile"

# --- start without a usable driver -------------------------------------------------------------
# The none driver is the one driver in this build. PATH=/nonexistent hides containerd, runc and
# iptables from its health check, so start refuses (on any host, root or not) and touches nothing.
PATH=/nonexistent run -p nodrv start; expect_rc 6 "start without a working driver"
expect_err "DRV_NONE_AVAILABLE" "no driver works: reason code"
expect_err "none: the none driver needs containerd, containerd-shim-runc-v2, runc, ctr" "the none driver says what it is missing"
expect_err "sudo apt-get install -y containerd runc containernetworking-plugins" "and how to install it"
PATH=/nonexistent run -p nodrv start --driver=none; expect_rc 6 "start --driver=none without containerd"; expect_err "DRV_UNHEALTHY" "unhealthy driver reason"
if [ "$(id -u)" -ne 0 ]; then
  run -p nodrv start --driver=none; expect_rc 6 "start --driver=none without root"
  expect_err "the none driver needs root" "without root: says so"; expect_err "sudo -E kcube start --driver=none" "without root: the fix"
fi
run -p nodrv start --driver=qemu; expect_rc 6 "start --driver=qemu"; expect_err "DRV_NOT_AVAILABLE" "driver not available reason"
PATH=/nonexistent run -p fresh start; expect_rc 6 "start of a new profile without a driver"
run start --driver=none; expect_rc 6 "start of an existing profile with another driver"; expect_err "DRV_MISMATCH" "driver mismatch reason"
run config set driver none; run start; expect_rc 6 "the driver setting does not apply to an existing profile"; expect_err "DRV_NOT_AVAILABLE: the qemu driver" "an existing profile keeps its driver"; run config unset driver
grep -q "DRV_NONE_AVAILABLE" "$KCUBE_HOME/profiles/fresh/logs/kcube.log" && pass "start logs to the profile's kcube.log" || fail "no profile log"
run profile list -o json; expect_json "[p['name'] for p in d['valid']]" "['dev']" "a failed first start creates no profile"
PATH=/nonexistent run -v start; expect_err "^I.*Starting cluster" "-v shows info log lines on stderr"
PATH=/nonexistent run start; if grep -Eq "^I[0-9]" "$work/err"; then fail "info log lines without -v"; else pass "no log lines on stderr without -v"; fi
run start --driver=hyperv; expect_rc 2 "start with an unknown driver"
run start --memory=lots; expect_rc 2 "start with an invalid memory size"
run start --wait-timeout=0; expect_rc 2 "start with a zero wait timeout"

# --- status, stop, logs, kubectl, image on profiles that are not running ---------------------------
# (The running cluster is tests/e2e/test_none_driver.py's, as root.)
run -p nope status; expect_rc 85 "status of a missing profile: minikube's code"
expect_err 'Profile "nope" not found. Run "kcube profile list" to view all profiles.' "status of a missing profile: minikube's message"
expect_err 'To start a cluster, run: "kcube start -p nope"' "status of a missing profile: the fix"
run -p nope status -o json; expect_rc 85 "status -o json of a missing profile"
run status -o yaml; expect_rc 2 "status -o yaml is not a format"
# A none profile whose machine was never created, and one whose node is stopped.
for p in idle stopped; do
  mkdir -p "$KCUBE_HOME/profiles/$p"
  cat >"$KCUBE_HOME/profiles/$p/config.json" <<JSON
{"name":"$p","driver":"none","cpus":2,"memoryMiB":2048,"diskMiB":20480,"kubernetesVersion":"v1.32.0","containerRuntime":"containerd","addons":[],"apiServerURL":""}
JSON
done
echo '{"driver":"none","port":8443,"nodeIP":"127.0.0.1","nodeName":"n","pid":0,"pidStartTime":0}' >"$KCUBE_HOME/profiles/stopped/machine.json"
run -p idle status; expect_rc 7 "status of a never-started cluster: 1|2|4"
expect_out "^idle$" "status text: the name"; expect_out "^type: Control Plane$" "status text: type"
expect_out "^host: Nonexistent$" "status text: host"; expect_out "^kubeconfig: Nonexistent$" "status text: kubeconfig"
run -p stopped status -o json; expect_rc 7 "status of a stopped cluster"
expect_json "[d['Name'], d['Host'], d['Kubelet'], d['APIServer'], d['Kubeconfig'], d['Worker']]" "['stopped', 'Stopped', 'Stopped', 'Stopped', 'Stopped', False]" "status json: minikube's fields"
run -p nope stop; expect_rc 3 "stop of a missing profile"; expect_err "PROFILE_NOT_FOUND" "stop of a missing profile: reason"
run -p stopped stop; expect_rc 0 "stop of a stopped cluster"; expect_err 'Stopping node "stopped"' "stop says what it stops"; expect_err "1 node stopped." "stop says it is done"
run -p nope logs; expect_rc 3 "logs of a missing profile"
run -p idle logs; expect_rc 0 "logs of a cluster with no log yet"
mkdir -p "$KCUBE_HOME/profiles/stopped/logs"; seq 1 100 | sed 's/^/line /' >"$KCUBE_HOME/profiles/stopped/logs/node.log"
run -p stopped logs; expect_rc 0 "kcube logs"
[ "$(wc -l <"$work/out")" -eq 60 ] && pass "logs prints 60 lines by default" || fail "logs printed $(wc -l <"$work/out") lines"
expect_out "^line 100$" "logs ends with the last line"
run -p stopped logs -n 3; [ "$(cat "$work/out")" = "$(printf 'line 98\nline 99\nline 100')" ] && pass "logs -n 3" || fail "logs -n 3"
run -p stopped logs -n x; expect_rc 2 "logs -n needs a number"
run -p nope kubectl -- get pods; expect_rc 3 "kubectl for a missing profile"
PATH=/nonexistent run -p stopped kubectl -- version; expect_rc 5 "kubectl that is not installed"; expect_err "KUBECTL_NOT_FOUND" "kubectl not found: reason"
mkdir -p "$KCUBE_HOME/cache/bin"; ln -s "$KUBECTL" "$KCUBE_HOME/cache/bin/kubectl"
PATH=/nonexistent run -p dev kubectl -- config view --minify -o 'jsonpath={.contexts[0].name}'
expect_rc 0 "kcube kubectl runs kubectl"; expect_out "^dev$" "kcube kubectl uses the profile's context"
rm -rf "$KCUBE_HOME/cache"
run -p stopped image ls; expect_rc 7 "image ls of a stopped cluster"; expect_err "CLUSTER_NOT_RUNNING" "image ls: not running"; expect_err "kcube start -p stopped" "image ls: the fix"
run -p stopped image load "$work/file.tar"; expect_rc 7 "image load into a stopped cluster"
run -p stopped image rm busybox; expect_rc 7 "image rm in a stopped cluster"
run -p nope image ls; expect_rc 3 "image ls of a missing profile"
run image; expect_rc 2 "image without a subcommand"
run image load; expect_rc 2 "image load without a file"

# --- delete ------------------------------------------------------------------------------------
run -p nope delete; expect_rc 0 "delete of a missing profile"
expect_err '"nope" profile does not exist, trying anyways.' "delete of a missing profile says so (as minikube)"
expect_err 'Removed all traces of the "nope" cluster.' "and finishes like minikube"
"$KUBECTL" config set-cluster idle --server=https://127.0.0.1:3 >/dev/null
"$KUBECTL" config set-credentials idle --token=x >/dev/null
"$KUBECTL" config set-context idle --cluster=idle --user=idle >/dev/null
run -p idle delete; expect_rc 0 "delete of a never-started cluster"
[ ! -e "$KCUBE_HOME/profiles/idle" ] && pass "delete removes the profile directory" || fail "profiles/idle is still there"
if "$KUBECTL" config get-contexts idle >/dev/null 2>&1; then fail "delete left the kubeconfig context"; else pass "delete removes the kubeconfig context"; fi
"$KUBECTL" config view -o jsonpath='{.clusters[*].name} {.users[*].name}' | grep -qw idle && fail "delete left the kubeconfig cluster/user" || pass "delete removes the kubeconfig cluster and user"
run -p idle delete; expect_rc 0 "delete is idempotent"
run delete --all; expect_rc 0 "delete --all"; expect_err "Successfully deleted all profiles" "delete --all says so"
run profile list -o json; expect_json "d" "{'valid': [], 'invalid': []}" "delete --all removes valid and invalid profiles"

# --- host problems -----------------------------------------------------------------------------
touch "$work/file"
KCUBE_HOME="$work/file/home" run config set cpus 2; expect_rc 5 "KCUBE_HOME under a file is a host error"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
