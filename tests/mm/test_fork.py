"""mm/fork.py: COW sharing, swap references, and the parent's flush."""

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_write
from minikernel.user import MAP_ANONYMOUS, MAP_SHARED, Process


def test_fork_write_protects_parent_and_flushes_its_tlbs(make_machine):
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    t = p.clone_thread(cpu=1)
    buf = p.mmap(PAGE_SIZE)
    t.write(buf, 1)                                  # CPU1: writable-dirty entry
    child = p.fork(cpu=2)
    assert not pte_write(p.mm.pgd[buf >> PAGE_SHIFT])
    assert m.page_alloc.mem_map[p.mm.pgd[buf >> PAGE_SHIFT] >> 8].mapcount == 2
    t.write(buf, 5)                                  # must COW, not write the shared page
    assert child.read(buf) == 1 and t.read(buf) == 5


def test_shared_mapping_is_shared_after_fork(make_machine):
    m = make_machine("x86", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    child = p.fork(cpu=1)
    assert (buf >> PAGE_SHIFT) not in child.mm.pgd   # no PTEs copied for shared VMAs
    child.write(buf, 2)
    assert p.read(buf) == 2
