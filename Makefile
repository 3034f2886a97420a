# Thin wrapper over CMake; see README.md. Every target installs missing Debian packages first
# (as root) or says which to install.
BUILD     ?= build
ASAN_BUILD ?= build-asan
JOBS      ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test asan fuzz clean gpu-bundle

all: build

deps:
	@scripts/install-deps.sh --check >/dev/null 2>&1 || scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 1

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DREVBENCH_SANITIZE=ON \
	  -DREVBENCH_CUDA=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j 1

# libFuzzer targets (tests/fuzz: experiment files, CIFAR, Fashion-MNIST, checkpoints), built with
# clang in build-fuzz/, FUZZ_SECONDS each; fails on any crash, sanitizer report or hang.
FUZZ_SECONDS ?= 10
fuzz: deps
	JOBS=$(JOBS) scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz $(GPU_BUILD) $(GPU_BUNDLE)

# The folder scripts/gpu-check.sh runs from on a GPU machine (README: "Checking a GPU machine"):
# the CUDA build for GPU_ARCHS (90: H100/H200) with the shared libraries it needs, built here.
GPU_BUILD  ?= build-gpu
GPU_ARCHS  ?= 90
GPU_BUNDLE ?= gpu-bundle
gpu-bundle: deps
	@cmake -S . -B $(GPU_BUILD) -DCMAKE_BUILD_TYPE=Release -DREVBENCH_CUDA=ON \
	  -DREVBENCH_CUDA_ARCHS="$(GPU_ARCHS)" $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(GPU_BUILD) -j $(JOBS) --target revbench revnet_cuda test_cuda \
	  test_cuda_numerics test_cuda_model test_cuda_algo
	scripts/gpu-bundle.sh $(GPU_BUILD) $(GPU_BUNDLE)

# Results, figures and the paper (plots/, paper/, experiments/README.md).
SCHEDULE ?= quick
DEVICE   ?= cpu
DB       ?= results/results.db
DATA     ?= $(or $(REVBENCH_DATA),data)
RUN_JOBS ?= 1
# The shipped reference results (results/reference/README.md): figures and tables set your
# runs beside them, or show them alone, saying so, when there is no database at $(DB).
REFERENCE ?= results/reference

.PHONY: plots paper reproduce-cifar reference

# Figures (paper/figures/*.png and *.svg) from the database and the reference results, in
# seconds; the build is needed to load the reference (revbench import).
plots: build
	REVBENCH=$(BUILD)/revbench plots/make-plots.sh --against $(REFERENCE) $(DB) paper/figures

# Tables (paper/REPORT.md, paper/tables/) from the database and the reference results, then
# the PDF if LaTeX is there.
paper: build
	$(BUILD)/revbench report --db $(DB) --against $(REFERENCE) --out paper
	@if command -v pdflatex >/dev/null 2>&1; then \
	  cd paper && pdflatex -interaction=nonstopmode -halt-on-error reproduction.tex >/dev/null && \
	  pdflatex -interaction=nonstopmode -halt-on-error reproduction.tex >/dev/null && \
	  echo "wrote paper/reproduction.pdf"; \
	else \
	  echo "pdflatex not installed: paper/REPORT.md and paper/tables/ are up to date" \
	       "(apt-get install texlive-latex-recommended for paper/reproduction.pdf)"; \
	fi

# Replaces the reference results with the finished runs of $(DB) (revbench export); review
# the diff (git diff results/reference) before committing it.
reference: build
	$(BUILD)/revbench export --db $(DB) --out $(REFERENCE)

# The paper's CIFAR matrix (experiments/cifar-$(SCHEDULE).ini), then figures and tables. Run it
# again after an interruption: finished runs are skipped and interrupted ones resumed.
reproduce-cifar: build
	scripts/fetch-cifar.sh $(DATA)
	@mkdir -p $(dir $(DB))
	$(BUILD)/revbench run experiments/cifar-$(SCHEDULE).ini --db $(DB) --device $(DEVICE) \
	  --data $(DATA) --jobs $(RUN_JOBS)
	$(MAKE) --no-print-directory plots DB=$(DB)
	$(MAKE) --no-print-directory paper DB=$(DB)
