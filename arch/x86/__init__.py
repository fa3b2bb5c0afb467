"""arch/x86"""
