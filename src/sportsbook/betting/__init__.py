"""Betting: bet types and their lines, placement rules, liability, cash-out pricing and settlement."""
