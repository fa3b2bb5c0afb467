# minikernel: the kernel's spelling of the config verbs, delegating to the CLI.
#
#   make ARCH=arm64 defconfig     .config from arch/arm64/configs/defconfig
#   make menuconfig               curses UI on .config (needs a terminal)
#   make olddefconfig             refresh .config; new symbols get defaults
#   make savedefconfig            minimal ./defconfig from .config
#   make test                     the whole test suite
#
# Like the kernel's, the verbs work on ./.config in the directory make runs
# in (or $KCONFIG_CONFIG), so `make -f /path/to/minikernel/Makefile ...`
# works from a separate build directory.  ARCH defaults to the host's for
# defconfig; the other verbs take the arch from .config.

srctree := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

PYTHON ?= $(if $(wildcard $(srctree)/.venv/bin/python),$(srctree)/.venv/bin/python,python3)
HOSTARCH := $(shell uname -m | sed -e s/aarch64/arm64/ -e s/x86_64/x86/)

# Run the checkout's minikernel even from another directory.
MINIKERNEL = PYTHONPATH=$(srctree)$(if $(PYTHONPATH),:$(PYTHONPATH)) $(PYTHON) -m minikernel

ifdef ARCH
export ARCH
endif

.PHONY: defconfig olddefconfig savedefconfig menuconfig test help

defconfig:
	$(MINIKERNEL) defconfig $(or $(ARCH),$(HOSTARCH))

olddefconfig savedefconfig menuconfig:
	$(MINIKERNEL) $@

test:
	cd $(srctree) && $(PYTHON) -m pytest

help:
	@sed -n '3,8p' $(lastword $(MAKEFILE_LIST)) | sed 's/^# *//'
