"""arch/riscv"""
