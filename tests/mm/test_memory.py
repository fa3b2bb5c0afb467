"""mm/memory.py: faults, swap-in, COW and data integrity over many swap cycles."""

import pytest

from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.memory import SegmentationFault
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, \
    Process


@pytest.mark.parametrize("arch,sets", [("arm64", ()), ("arm64", ("EXPERT=y",)), ("x86", ())])
@pytest.mark.parametrize("flags", [MAP_SHARED | MAP_ANONYMOUS, MAP_PRIVATE | MAP_ANONYMOUS],
                         ids=["shared", "private"])
def test_contents_survive_1000_swap_cycles(make_machine, arch, sets, flags):
    m = make_machine(arch, *sets, cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 8
    buf = p.mmap(n * PAGE_SIZE, flags=flags)
    for i in range(n):
        p.write(buf + i * PAGE_SIZE, 0xD00D0000 + i)
    lost = 0
    for cycle in range(1000):
        assert p.madvise(buf, n * PAGE_SIZE, MADV_PAGEOUT) == n
        for i in range(n):
            lost += p.read(buf + i * PAGE_SIZE) != 0xD00D0000 + i + cycle
            p.write(buf + i * PAGE_SIZE, 0xD00D0000 + i + cycle + 1)
    assert lost == 0
    assert m.vmstat.pswpout == 1000 * n and m.vmstat.pswpin == 1000 * n


def test_cow_after_fork_copies_on_write(make_machine):
    m = make_machine("x86", cpus=4)
    parent = Process.spawn(m, cpu=0)
    buf = parent.mmap(PAGE_SIZE)
    parent.write(buf, 1)
    child = parent.fork(cpu=1)
    child.write(buf, 2)
    assert parent.read(buf) == 1 and child.read(buf) == 2


def test_write_to_read_only_mapping_is_sigsegv(make_machine):
    m = make_machine("arm64", cpus=2)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, prot=PROT_READ)
    assert p.read(buf) == 0
    with pytest.raises(SegmentationFault):
        p.write(buf, 1)


def test_access_after_munmap_is_sigsegv_and_frees_pages(make_machine):
    m = make_machine("arm64", cpus=2)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(4 * PAGE_SIZE)
    for i in range(4):
        p.write(buf + i * PAGE_SIZE, i)
    free_before = len(m.page_alloc.free_list)
    p.munmap(buf, 4 * PAGE_SIZE)
    assert len(m.page_alloc.free_list) == free_before + 4
    with pytest.raises(SegmentationFault):
        p.read(buf)
