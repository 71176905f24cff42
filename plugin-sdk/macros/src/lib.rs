//! Attribute macros of `wasmhook-plugin-sdk`. Use them through the SDK
//! (`#[wasmhook_plugin_sdk::filter]`), which re-exports them.
//!
//! Each macro keeps the function as written and, when compiling for WebAssembly, adds the
//! `handle` export of the `wasmhook:plugin` world that parses the envelope, calls the
//! function and serialises its result. On other targets it adds the same entry point as
//! `pub fn wasmhook_handle(envelope: &[u8]) -> Result<Vec<u8>, String>`, so the plugin can be
//! unit-tested and measured natively.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{FnArg, ItemFn, parse_macro_input};

/// Turns `fn name(e: &Envelope) -> bool` (or `-> Result<bool, E>` with `E: Display`) into
/// the plugin's filter: `true` passes the event, `false` drops it.
#[proc_macro_attribute]
pub fn filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Filter, attr, item)
}

/// Turns `fn name(e: Envelope) -> Output` (or anything convertible into an `Output`:
/// `Message`, `Vec<Message>`, `Option<Message>`, `Envelope`; or a `Result` of one) into the
/// plugin's transform.
#[proc_macro_attribute]
pub fn transform(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Transform, attr, item)
}

/// Turns `fn name(e: Envelope) -> serde_json::Value` (or `bool`, `Output`, or a `Result` of
/// one) into the plugin's handler: the returned JSON is the result as is. For plugins that
/// decide at run time whether they act as a filter or a transform.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Handler, attr, item)
}

#[derive(Clone, Copy)]
enum Kind {
    Filter,
    Transform,
    Handler,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Transform => "transform",
            Kind::Handler => "handler",
        }
    }

    fn signature(self) -> &'static str {
        match self {
            Kind::Filter => "fn name(e: &Envelope) -> bool",
            Kind::Transform => "fn name(e: Envelope) -> Output",
            Kind::Handler => "fn name(e: Envelope) -> serde_json::Value",
        }
    }
}

fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    if !attr.is_empty() {
        let message = format!("#[{}] takes no arguments", kind.name());
        return syn::Error::new_spanned(attr, message)
            .to_compile_error()
            .into();
    }
    let function = parse_macro_input!(item as ItemFn);
    match check(kind, &function) {
        Ok(()) => generate(kind, &function).into(),
        Err(e) => {
            let error = e.to_compile_error();
            quote!(#function #error).into()
        }
    }
}

fn check(kind: Kind, function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    let wrong = |what: &str| {
        let message = format!("#[{}] expects `{}`: {what}", kind.name(), kind.signature());
        Err(syn::Error::new_spanned(sig, message))
    };
    if sig.asyncness.is_some() {
        return wrong("it cannot be async");
    }
    if !sig.generics.params.is_empty() {
        return wrong("it cannot be generic");
    }
    if sig.inputs.len() != 1 || matches!(sig.inputs.first(), Some(FnArg::Receiver(_))) {
        return wrong("it takes exactly one argument, the envelope");
    }
    Ok(())
}

fn generate(kind: Kind, function: &ItemFn) -> TokenStream2 {
    let name = &function.sig.ident;
    let runner = match kind {
        Kind::Filter => quote!(::wasmhook_plugin_sdk::run::filter),
        Kind::Transform => quote!(::wasmhook_plugin_sdk::run::transform),
        Kind::Handler => quote!(::wasmhook_plugin_sdk::run::handler),
    };
    quote! {
        #function

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WasmhookPlugin;

            impl ::wasmhook_plugin_sdk::bindings::Guest for WasmhookPlugin {
                fn handle(
                    envelope: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    #runner(&envelope, #name)
                }
            }

            ::wasmhook_plugin_sdk::bindings::export!(WasmhookPlugin);
        };

        /// The plugin's `handle` export compiled for the host: the same envelope bytes in,
        /// the same result bytes out. Native harnesses and benchmarks call it to compare the
        /// plugin with its WebAssembly build; it also makes native `cargo check` report what
        /// the WebAssembly build would.
        #[cfg(not(target_arch = "wasm32"))]
        #[allow(dead_code)]
        pub fn wasmhook_handle(
            envelope: &[u8],
        ) -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
            #runner(envelope, #name)
        }
    }
}
