"""arch/arm64"""
