<?php
/**
 * Loads the plugin's pure classes without WordPress, with stand-ins for the few WordPress functions
 * they call (escaping). Tests only: the plugin never loads this file.
 *
 * The stand-ins follow WordPress's own (wp-includes/formatting.php): esc_html and esc_attr do not
 * double-encode entities and answer '' for invalid UTF-8; esc_url removes the characters a URL cannot
 * hold, encodes & and ' for HTML, and answers '' for a protocol not allowed.
 *
 * @package RelatedHeadlines
 */

define( 'ABSPATH', __DIR__ . '/' );
define( 'RELATED_HEADLINES_VERSION', 'test' );
define( 'RELATED_HEADLINES_PLUGIN', dirname( __DIR__ ) . '/related-headlines' );

if ( ! function_exists( 'esc_html' ) ) {
	/**
	 * WordPress's esc_html.
	 *
	 * @param string $text Text.
	 */
	function esc_html( $text ) {
		$text = (string) $text;
		if ( ! preg_match( '//u', $text ) ) {
			return '';
		}
		return htmlspecialchars( $text, ENT_QUOTES, 'UTF-8', false );
	}
}

if ( ! function_exists( 'esc_attr' ) ) {
	/**
	 * WordPress's esc_attr.
	 *
	 * @param string $text Text.
	 */
	function esc_attr( $text ) {
		return esc_html( $text );
	}
}

if ( ! function_exists( 'esc_url' ) ) {
	/**
	 * WordPress's esc_url (display context), simplified.
	 *
	 * @param string     $url       URL.
	 * @param array|null $protocols Allowed protocols.
	 */
	function esc_url( $url, $protocols = null ) {
		$url = str_replace( ' ', '%20', ltrim( (string) $url ) );
		$url = preg_replace( '|[^a-z0-9-~+_.?#=!&;,/:%@$\|*\'()\[\]\\x80-\\xff]|i', '', $url );
		if ( '' === $url ) {
			return '';
		}
		$url = str_ireplace( array( '%0d', '%0a' ), '', $url );
		$url = str_replace( ';//', '://', $url );
		if ( false === strpos( $url, ':' ) && ! in_array( $url[0], array( '/', '#', '?' ), true ) ) {
			$url = 'http://' . $url;
		}
		$protocols = null === $protocols ? array( 'http', 'https', 'ftp', 'ftps', 'mailto', 'news', 'irc', 'gopher', 'nntp', 'feed', 'telnet' ) : $protocols;
		if ( '/' !== $url[0] && preg_match( '/^([^:\/?#]+):/', $url, $scheme ) && ! in_array( strtolower( $scheme[1] ), $protocols, true ) ) {
			return '';
		}
		$url = str_replace( '&amp;', '&#038;', preg_replace( '/&(?!#?[A-Za-z0-9]+;)/', '&amp;', $url ) );
		return str_replace( "'", '&#039;', $url );
	}
}

require_once RELATED_HEADLINES_PLUGIN . '/includes/class-article-mapper.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-block-renderer.php';
require_once RELATED_HEADLINES_PLUGIN . '/includes/class-service-client.php';
