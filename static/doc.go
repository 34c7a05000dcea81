// Package static embeds the portal's CSS, the vendored htmx and icons, served
// under content-hashed names. (Filled in by the sign-in issue.)
package static
