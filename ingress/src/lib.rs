//! The rustls + hyper L7 ingress for networking.k8s.io/v1 Ingress.
//! Not built yet: see issue 7.
