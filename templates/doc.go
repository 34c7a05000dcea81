// Package templates holds the templ components and their typed view models.
// (Filled in by the sign-in and assignments issues.)
package templates
