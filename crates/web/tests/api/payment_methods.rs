//! Cards (BILL1, BILL2): see below.
