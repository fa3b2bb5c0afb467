"""The simulated hardware: CPUs, TLBs, page-table walker, physical memory, interconnect.

Nothing in this package knows about the kernel.  The kernel (``mm/`` and
``arch/``) drives it through a handful of instruction-level verbs: a user
access through a CPU's TLB, ``TLBI``/``DSB`` on arm64, ``INVLPG``, local
flushes and IPIs on x86.  Every verb charges simulated time on the CPU that
executes it.
"""
