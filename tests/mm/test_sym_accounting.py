"""Symbol accounting survives exceptions (issue 14 item 4).

A modelled function that is its own profile symbol sets ``cpu.sym`` on entry
and must give the caller's symbol back on every exit.  If an exception
escaping a callee left ``cpu.sym`` pointing at the function, every later
charge without an explicit symbol (a TLBI's issue, a walker fill, a DSB
stall) would land on the wrong symbol -- e.g. a fault that meets a folio
reclaim holds locked (FolioLocked, which the scenario runner retries).
"""

import pytest

from minikernel.hw.cpu import S_cpu_idle, symbol_id
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_pfn
from minikernel.mm import memory, rmap, vmscan
from minikernel.mm.memory import MmuGather, SegmentationFault, tlb_flush_mmu_tlbonly
from minikernel.mm.mm_types import FolioLocked, VmBug
from minikernel.mm.pgtable_generic import ptep_clear_flush
from minikernel.user import MADV_DONTNEED, MAP_ANONYMOUS, MAP_SHARED, Process

SENTINEL = symbol_id("caller_of_the_section")     # a made-up symbol: cpu.sym holds its slot


class Boom(Exception):
    """Raised by a patched callee inside an accounted section."""


def _boom(*args, **kw):
    raise Boom


def test_a_fault_on_a_locked_folio_gives_the_caller_its_symbol_back(make_machine):
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    p.madvise(buf, PAGE_SIZE, MADV_DONTNEED)        # the PTE goes, the page-cache folio stays
    folio = p.task.mm.find_vma(buf).vm_file.i_pages[0]
    folio.locked = True                              # as reclaim holds it mid shrink_folio_list
    cpu = p.task.cpu
    cpu.sym = SENTINEL
    with pytest.raises(FolioLocked):
        memory.access_user(p.task, buf, False)
    assert cpu.sym == SENTINEL
    folio.locked = False
    assert p.read(buf) == 1


def test_a_sigsegv_gives_the_caller_its_symbol_back(make_machine):
    m = make_machine("x86", cpus=2)
    p = Process.spawn(m, cpu=0)
    cpu = p.task.cpu
    cpu.sym = SENTINEL
    with pytest.raises(SegmentationFault):
        memory.do_user_addr_fault(p.task, 0x7000_0000, False)
    assert cpu.sym == SENTINEL


def _mapped_page(m, flags=MAP_SHARED | MAP_ANONYMOUS):
    """A process on CPU 0 with one written page; (task, vma, addr, folio)."""
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=flags)
    p.write(buf, 7)
    mm = p.task.mm
    folio = m.page_alloc.mem_map[pte_pfn(mm.pgd[buf >> PAGE_SHIFT])]
    return p.task, mm.find_vma(buf), buf, folio


def _try_to_unmap_one(m, monkeypatch):
    task, vma, addr, folio = _mapped_page(m)
    monkeypatch.setattr(rmap, "should_defer_flush", _boom)
    return task.cpu, lambda: rmap.try_to_unmap_one(task, folio, vma, addr, rmap.TTU_BATCH_FLUSH)


def _folio_referenced(m, monkeypatch):
    task, _, _, folio = _mapped_page(m)
    monkeypatch.setattr(m.arch, "ptep_clear_flush_young", _boom)
    return task.cpu, lambda: rmap.folio_referenced(task, folio)


def _ptep_clear_flush(m, monkeypatch):
    task, vma, addr, _ = _mapped_page(m)
    monkeypatch.setattr(m.arch, "flush_tlb_page", _boom)
    return task.cpu, lambda: ptep_clear_flush(task.cpu, vma, addr)


def _tlb_flush_mmu_tlbonly(m, monkeypatch):
    task, vma, addr, _ = _mapped_page(m)
    tlb = MmuGather(vma)
    tlb.tlb_remove_tlb_entry(addr)
    monkeypatch.setattr(m.arch, "flush_tlb_range", _boom)
    return task.cpu, lambda: tlb_flush_mmu_tlbonly(task, tlb)


def _try_to_unmap_flush(m, monkeypatch):
    task, _, _, _ = _mapped_page(m)
    task.tlb_ubc.flush_required = True
    monkeypatch.setattr(m.arch, "arch_tlbbatch_flush", _boom)
    return task.cpu, lambda: rmap.try_to_unmap_flush(task)


def _flush_tlb_batched_pending(m, monkeypatch):
    task, _, _, _ = _mapped_page(m)
    task.mm.tlb_flush_batched = 1                   # pending 1, flushed 0
    monkeypatch.setattr(m.arch, "arch_flush_tlb_batched_pending", _boom)
    return task.cpu, lambda: rmap.flush_tlb_batched_pending(task, task.mm)


def _handle_mm_fault(m, monkeypatch):
    task, _, addr, _ = _mapped_page(m)
    monkeypatch.setattr(memory, "handle_mm_fault", _boom)
    return task.cpu, lambda: memory.do_user_addr_fault(task, addr, False)


def _shrink_folio_list(m, monkeypatch):
    task, _, _, folio = _mapped_page(m)
    assert vmscan.folio_isolate_lru(task, folio)
    monkeypatch.setattr(vmscan, "try_to_unmap", _boom)
    return task.cpu, lambda: vmscan.shrink_folio_list(task, [folio], True)


def _free_unref_folios(m, monkeypatch):
    task, _, _, folio = _mapped_page(m)
    monkeypatch.setattr(m, "debug_vm", True)        # freeing a mapped folio: VM_BUG_ON

    def run():
        try:
            vmscan._free_folio_batch(task, [folio], SENTINEL)   # the symbol to go back to
        except VmBug as e:
            raise Boom from e
    return task.cpu, run


SECTIONS = {
    "try_to_unmap_one": _try_to_unmap_one,
    "folio_referenced": _folio_referenced,
    "ptep_clear_flush": _ptep_clear_flush,
    "tlb_flush_mmu": _tlb_flush_mmu_tlbonly,
    "try_to_unmap_flush": _try_to_unmap_flush,
    "flush_tlb_batched_pending": _flush_tlb_batched_pending,
    "handle_mm_fault": _handle_mm_fault,
    "shrink_folio_list": _shrink_folio_list,
    "free_unref_folios": _free_unref_folios,
}


@pytest.mark.stale_entries          # the patched callee leaves its flush undone on purpose
@pytest.mark.parametrize("arch", ["arm64", "x86"])
@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_an_exception_inside_an_accounted_section_restores_cpu_sym(make_machine, monkeypatch,
                                                                   arch, section):
    sets = ("EXPERT=y",) if arch == "arm64" else ()
    m = make_machine(arch, *sets, cpus=16)
    cpu, run = SECTIONS[section](m, monkeypatch)
    cpu.sym = SENTINEL
    with pytest.raises(Boom):
        run()
    assert cpu.sym == SENTINEL


@pytest.mark.parametrize("arch", ["x86", "riscv"])
def test_an_exception_in_an_ipi_handler_restores_both_cpus_symbols(make_machine, arch):
    m = make_machine(arch, cpus=4)
    hw = m.arch.apic if arch == "x86" else m.arch.hw
    src, dst = m.cpus[0], m.cpus[1]
    src.sym, dst.sym = SENTINEL, S_cpu_idle
    with pytest.raises(Boom):
        hw.ipi_round(src, [dst], _boom, "flush_tlb_func", "smp_call_function_many_cond")
    assert (src.sym, dst.sym) == (SENTINEL, S_cpu_idle)
    with pytest.raises(Boom):
        hw.ipi_round(src, [], lambda t: None, "flush_tlb_func", "smp_call_function_many_cond",
                     local=_boom, local_sym="flush_tlb_mm_range")
    assert src.sym == SENTINEL
