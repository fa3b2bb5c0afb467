"""Page-table entry format and the hardware page-table walker.

Models: the page-table entry helpers of arch/*/include/asm/pgtable.h
(``pte_present``, ``pte_write``, ``pte_dirty``, ``pte_pfn`` ...) and the
hardware walker that fills a TLB on a miss.

Invariants this module owns:
  - A PTE is a plain ``int``: ``pfn << PTE_PFN_SHIFT | flags``.  ``0`` is
    ``pte_none``.  A non-present PTE with ``_PAGE_SWP`` set holds a swap offset
    where a present one holds a pfn.
  - The walker only ever sets ``_PAGE_ACCESSED``/``_PAGE_DIRTY`` on a PTE that
    is present and (for a write) writable; a store through a TLB entry that is
    still clean must re-walk, and traps if the PTE has gone (the guarantee
    x86's batched flushing relies on).

# MODEL: one PTE format serves both architectures; the kernel has one per
# arch but the bits that matter here (present, write, dirty, young, swap) have
# the same meaning on both.
# MODEL: page tables are one flat dict per mm (vpn -> pte); there are no
# intermediate levels, so freeing page tables is not modelled.
"""

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

_PAGE_PRESENT = 0x01
_PAGE_RW = 0x02
_PAGE_DIRTY = 0x04
_PAGE_ACCESSED = 0x08
_PAGE_SWP = 0x10          # not present; the high bits hold a swap offset
_PAGE_PROTNONE = 0x20     # PROT_NONE: mapped (pte_present) but the walker faults on it
_PAGE_MIGRATION = 0x40    # not present; the high bits hold the pfn of a folio under migration
_PAGE_MIGRATION_WRITE = 0x80   # ...and the entry it replaced was writable
PTE_PFN_SHIFT = 8

# TLB entries are keyed by (ASID, virtual page number) packed into one int.
ASID_SHIFT = 36           # 48-bit VA -> 36-bit VPN


def mk_pte(pfn: int, writable: bool, dirty: bool = False, young: bool = False) -> int:
    """Models: mk_pte() + pte_mkwrite()/pte_mkdirty()/pte_mkyoung(): a present PTE for *pfn*.

    A fault handler maps the faulting page young: the access it retries sets
    the accessed bit at once anyway.
    """
    pte = (pfn << PTE_PFN_SHIFT) | _PAGE_PRESENT
    if writable:
        pte |= _PAGE_RW
    if dirty:
        pte |= _PAGE_DIRTY
    if young:
        pte |= _PAGE_ACCESSED
    return pte


def pte_present(pte: int) -> bool:
    """Models: pte_present(): a page is mapped here (the walker may use it unless PROT_NONE)."""
    return bool(pte & (_PAGE_PRESENT | _PAGE_PROTNONE))


def pte_protnone(pte: int) -> bool:
    """Models: pte_protnone(): mapped, but PROT_NONE -- no access through it."""
    return bool(pte & _PAGE_PROTNONE)


def pte_mknone(pte: int) -> int:
    """Models: pte_modify() to PAGE_NONE: keep the pfn and A/D bits, forbid every access."""
    return (pte & ~(_PAGE_PRESENT | _PAGE_RW)) | _PAGE_PROTNONE


def pte_mkpresent(pte: int) -> int:
    """Models: pte_modify() from PAGE_NONE to a read-only protection."""
    return (pte & ~_PAGE_PROTNONE) | _PAGE_PRESENT


def pte_none(pte: int) -> bool:
    """Models: pte_none(): nothing at all is mapped (neither page nor swap entry)."""
    return pte == 0


def pte_write(pte: int) -> bool:
    """Models: pte_write()."""
    return bool(pte & _PAGE_RW)


def pte_dirty(pte: int) -> bool:
    """Models: pte_dirty(): the page was written through this mapping since it was cleaned."""
    return bool(pte & _PAGE_DIRTY)


def pte_young(pte: int) -> bool:
    """Models: pte_young(): the page was accessed through this mapping."""
    return bool(pte & _PAGE_ACCESSED)


def pte_pfn(pte: int) -> int:
    """Models: pte_pfn()."""
    return pte >> PTE_PFN_SHIFT


def pte_wrprotect(pte: int) -> int:
    """Models: pte_wrprotect()."""
    return pte & ~_PAGE_RW


def pte_mkwrite(pte: int) -> int:
    """Models: pte_mkwrite()."""
    return pte | _PAGE_RW


def pte_mkclean(pte: int) -> int:
    """Models: pte_mkclean()."""
    return pte & ~_PAGE_DIRTY


def pte_mkold(pte: int) -> int:
    """Models: pte_mkold()."""
    return pte & ~_PAGE_ACCESSED


def pte_accessible(pte: int) -> bool:
    """Models: pte_accessible(): could any TLB hold a translation made from this PTE?

    Simplification: the kernel also consults mm_tlb_flush_pending() for
    PROT_NONE/NUMA PTEs; here only a PTE the walker can use is accessible.
    """
    return bool(pte & _PAGE_PRESENT)


def is_swap_pte(pte: int) -> bool:
    """Models: is_swap_pte(): not present, but not none either."""
    return bool(pte & _PAGE_SWP)


def swp_entry_to_pte(offset: int) -> int:
    """Models: swp_entry_to_pte(): a non-present PTE recording a swap slot."""
    return (offset << PTE_PFN_SHIFT) | _PAGE_SWP


def pte_to_swp_offset(pte: int) -> int:
    """Models: swp_offset(pte_to_swp_entry())."""
    return pte >> PTE_PFN_SHIFT


# --- migration entries (include/linux/swapops.h) ---
#
# MODEL: upstream a migration entry is a swap entry of type SWP_MIGRATION_READ
# or SWP_MIGRATION_WRITE (is_swap_pte() is true for it, non_swap_entry()
# tells it apart); here it has its own bit and is_swap_pte() is false, so the
# swap paths never see one.  The young and dirty bits of the PTE it replaced
# are kept in the entry as since 6.1 (2e3468778dbe, SWP_MIG_YOUNG/DIRTY).

def make_migration_entry(pfn: int, pteval: int) -> int:
    """Models: make_{readable,writable}_migration_entry() + swp_entry_to_pte(), keeping young/dirty.

    *pteval* is the PTE being replaced: its write permission picks the entry
    type, its young and dirty bits go into the entry.
    """
    pte = (pfn << PTE_PFN_SHIFT) | _PAGE_MIGRATION | (pteval & (_PAGE_DIRTY | _PAGE_ACCESSED))
    if pteval & _PAGE_RW:
        pte |= _PAGE_MIGRATION_WRITE
    return pte


def is_migration_entry(pte: int) -> bool:
    """Models: is_migration_entry(pte_to_swp_entry(pte)) for a non-present PTE."""
    return bool(pte & _PAGE_MIGRATION)


def is_writable_migration_entry(pte: int) -> bool:
    """Models: is_writable_migration_entry()."""
    return bool(pte & _PAGE_MIGRATION_WRITE)


def make_readable_migration_entry(pte: int) -> int:
    """Models: make_readable_migration_entry(): drop the write permission, keep the rest."""
    return pte & ~_PAGE_MIGRATION_WRITE


def migration_entry_to_pfn(pte: int) -> int:
    """Models: swp_offset_pfn(): the pfn of the folio under migration."""
    return pte >> PTE_PFN_SHIFT
