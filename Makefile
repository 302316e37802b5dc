# deepc: `make demo` and `make test` do everything on a fresh Debian machine.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
VG_BUILD ?= build-valgrind
FUZZ_SECONDS ?= 300
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all deps build demo test asan fuzz valgrind crosscheck examples docs bench bench-mpi golden clean install uninstall

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job: the bundled-digits MLP (a second), whose saved model the command-line program
# scores again, then the documents' CNN on Fashion-MNIST for 3 epochs (about 20 s on 2 cores),
# each with its learning curves under out/.
demo: build
	$(BUILD)/examples/digits_mlp
	$(BUILD)/tools/deepc evaluate out/digits_mlp.safetensors out/digits_test_x.npy out/digits_test_y.npy
	$(BUILD)/examples/cnn_fashion 3

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (built without MPI, so it
# also checks the one-rank build).
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDC_SANITIZE=ON -DDC_NATIVE=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# Every parser under libFuzzer (clang, ASan+UBSan), FUZZ_SECONDS each (CI runs 30 s each).
fuzz:
	scripts/deps.sh --fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DDC_FUZZ=ON -DDC_NATIVE=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	scripts/fuzz.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

# The digits demo and the command-line program under valgrind's leak checker: any definite or
# indirect leak, or any memory error, fails. Valgrind knows no AVX-512 and hides it from CPUID:
# the library then picks its AVX2 clones and float32 GEMMs by itself (as on any CPU without
# AVX-512), and OpenBLAS is told to use its Haswell kernels.
valgrind:
	scripts/deps.sh --fuzz
	cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDC_NATIVE=OFF
	cmake --build $(VG_BUILD) -j $(JOBS) --target digits_mlp deepc_cli
	mkdir -p out/valgrind
	for cmd in "examples/digits_mlp data/digits.csv.gz out/valgrind" \
	           "tools/deepc evaluate out/valgrind/digits_mlp.safetensors out/valgrind/digits_test_x.npy out/valgrind/digits_test_y.npy"; do \
	  OPENBLAS_CORETYPE=Haswell DEEPC_THREADS=2 OMP_WAIT_POLICY=passive valgrind --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=9 $(VG_BUILD)/$$cmd || exit 1; done

# Runs every example program on their bundled, Debian-packaged or generated data, each of
# which exits non-zero when it misses its target; the long ones with the short arguments ctest
# gives them (the character model 3 epochs, the string reversal 6 epochs of 20000 strings). The
# speech example's utterances are made by espeak-ng the first time (about 250 MB under out/).
EXAMPLE_RUNS = xor iris digits_mlp "image_classifier 4 40" transfer_fashion gdp_forecast bert_encode text_classify lstm_fashion cnn_fashion \
	"char_transformer /usr/share/games/fortunes 3" "seq2seq_reverse 6 20000" "speech_ctc out/speech_digits" \
	"autoencoder_fashion 4 /usr/share/datasets/fashion-mnist out 10000 3" \
	"vae_fashion 4 /usr/share/datasets/fashion-mnist out 10000" \
	"dcgan_fashion 3 /usr/share/datasets/fashion-mnist out 6000 2000" "recommender 3 /var/lib/apt/lists out"
examples: build
	@test -f out/speech_digits/train/labels.tsv || scripts/gen_speech_digits.sh out/speech_digits 2000 400 1
	@for e in $(EXAMPLE_RUNS); do echo "== $$e"; $(BUILD)/examples/$$e || exit 1; done

# Rewrites docs/layers.md, the reference of every layer type, optimiser, schedule, loss and metric,
# from the registries (ctest's docs_layers fails while it is out of date).
docs: build
	$(BUILD)/tools/deepc layers --markdown > docs/layers.md.tmp
	mv docs/layers.md.tmp docs/layers.md

# Side-by-side benchmarks against the PyTorch peers (needs python3-torch, dataset-fashion-mnist).
bench: build
	scripts/deps.sh --bench
	bench/run.sh

# The CNN benchmark at 1 process and 2 MPI ranks of 1 thread each (and 1 process of 2 threads):
# speed-ups and the all-reduce time per step (needs MPI and dataset-fashion-mnist).
bench-mpi: build
	bench/mpi_scaling.sh 3

# Regenerates the committed PyTorch golden vectors (needs python3-torch).
golden:
	/usr/bin/python3 scripts/golden/gen_golden.py tests/golden
	/usr/bin/python3 scripts/golden/gen_safetensors.py tests/golden/io
	/usr/bin/python3 scripts/golden/gen_npy.py tests/golden/io
	/usr/bin/python3 scripts/golden/gen_torch_exchange.py tests/golden/io
	/usr/bin/python3 scripts/golden/gen_golden_attn.py tests/golden
	/usr/bin/python3 scripts/golden/gen_golden_transformer.py tests/golden/transformer
	/usr/bin/python3 scripts/golden/gen_wordpiece.py
	/usr/bin/python3 scripts/golden/gen_golden_bert.py tests/golden/bert
	/usr/bin/python3 scripts/golden/gen_golden_loss.py tests/golden/loss
	/usr/bin/python3 scripts/golden/gen_golden_ctc.py tests/golden/ctc
	/usr/bin/python3 scripts/golden/gen_golden_optim.py tests/golden/optim
	/usr/bin/python3 scripts/golden/gen_golden_convt.py tests/golden/convt
	/usr/bin/python3 scripts/golden/gen_golden_transfer.py tests/golden/transfer
	/usr/bin/python3 scripts/golden/gen_golden_layers.py tests/golden/layers
	/usr/bin/python3 scripts/golden/gen_golden_layers21.py tests/golden/layers21
	/usr/bin/python3 scripts/golden/gen_golden_rnn_state.py tests/golden/rnn_state
	/usr/bin/python3 scripts/golden/gen_golden_audio.py tests/golden/audio
	/usr/bin/python3 scripts/golden/gen_golden_frechet.py tests/golden/frechet
	/usr/bin/python3 scripts/golden/gen_golden_pca.py tests/golden/pca
	/usr/bin/python3 scripts/golden/gen_golden_elementwise.py tests/golden/elementwise
	/usr/bin/python3 scripts/golden/gen_golden_onnx_layers.py tests/golden/onnx_layers

# Files written by deepc, read back by NumPy, PyTorch and a plain Python safetensors reader
# (needs python3-numpy and python3-torch: scripts/deps.sh --bench).
crosscheck: build
	scripts/deps.sh --bench
	rm -rf out/crosscheck && mkdir -p out/crosscheck
	cd . && $(BUILD)/tests/test_safetensors out/crosscheck && $(BUILD)/tests/test_npy out/crosscheck && $(BUILD)/tests/test_model_io out/crosscheck
	/usr/bin/python3 scripts/golden/gen_safetensors.py --check out/crosscheck
	/usr/bin/python3 scripts/golden/gen_npy.py --check out/crosscheck
	/usr/bin/python3 scripts/golden/gen_torch_exchange.py --check out/crosscheck

# The library as a C library under PREFIX (DESTDIR stages it for a package): libdeepc.a,
# libdeepc.so, the headers, deepc.pc and deepc-static.pc for pkg-config, the CMake package
# (find_package(deepc)) and the deepc program.
install: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target deepc deepc_shared deepc_cli
	cmake --install $(BUILD) --prefix $(PREFIX)

# Removes the files the last `make install` from $(BUILD) wrote (its install_manifest.txt), and
# the folders include/deepc and lib/cmake/deepc when that leaves them empty.
uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "uninstall: no $(BUILD)/install_manifest.txt: nothing was installed from $(BUILD)" >&2; exit 1; }
	xargs -d '\n' rm -fv < $(BUILD)/install_manifest.txt
	sed -n 's|/include/deepc/[^/]*$$|/include/deepc|p; s|/cmake/deepc/[^/]*$$|/cmake/deepc|p' $(BUILD)/install_manifest.txt | \
	  sort -u | xargs -r -d '\n' rmdir --ignore-fail-on-non-empty
	rm -f $(BUILD)/install_manifest.txt

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(VG_BUILD)
