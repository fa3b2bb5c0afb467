"""mm/mmap.py: placement, splitting and munmap."""

from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.mmap import MMAP_MIN_ADDR
from minikernel.user import Process


def test_mappings_do_not_overlap_and_reuse_gaps(make_machine):
    m = make_machine("x86", cpus=2)
    p = Process.spawn(m, cpu=0)
    a = p.mmap(3 * PAGE_SIZE)
    b = p.mmap(PAGE_SIZE)
    assert (a, b) == (MMAP_MIN_ADDR, MMAP_MIN_ADDR + 3 * PAGE_SIZE)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)               # a hole in the middle
    assert [(v.vm_start - a) // PAGE_SIZE for v in p.mm.mmap] == [0, 2, 3]
    assert p.mmap(PAGE_SIZE) == a + PAGE_SIZE


def test_munmap_flushes_remote_entries(make_machine):
    for arch in ("arm64", "x86"):
        m = make_machine(arch, cpus=4)
        p = Process.spawn(m, cpu=0)
        t = p.clone_thread(cpu=2)
        buf = p.mmap(PAGE_SIZE)
        t.write(buf, 9)
        p.munmap(buf, PAGE_SIZE)
        assert not any(m.tlbs.tlbs[c] for c in range(4)), arch
