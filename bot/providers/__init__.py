"""Publishing providers behind one small interface (`base.Provider`), one module each."""
