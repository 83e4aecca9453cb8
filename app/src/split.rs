//! Split points: functions whose code `cargo xtask dist` moves into a wasm chunk of its own,
//! loaded the first time one is called.
//!
//! `#[wasm_split]` makes the wasm import the function from a placeholder module that only the
//! dist build's splitter fills in, so an unsplit wasm (the `wasm-bindgen-test` binaries) could
//! not even instantiate. The `split` feature, which only dist turns on, chooses: with it the
//! function is a split point; without it, the same body as a plain `async fn`, so callers await
//! it either way and tests run the same code.

/// `split_point!(chunk_name, fn f(arg: T) -> Result<R, SplitLoaderError> { body })`
macro_rules! split_point {
    ($chunk:ident, $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        #[cfg(feature = "split")]
        #[wasm_split_helpers::wasm_split($chunk, fallible)]
        $vis fn $name($($arg: $ty),*) -> $ret $body

        #[cfg(not(feature = "split"))]
        $vis async fn $name($($arg: $ty),*) -> $ret $body
    };
}

pub(crate) use split_point;
